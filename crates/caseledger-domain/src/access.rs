//! The `AccessLog` stream: reads of private data, recorded in the same tamper-evident log as
//! every business event. One stream per read (the application picks a fresh id), so recording
//! never contends with other reads.

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use crate::actor::Authored;
use crate::ids::UserId;

/// Record one read of private data.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordAccess {
    /// What kind of private data, e.g. `case_history`, `audit_events`.
    pub resource: String,
    /// Which record, e.g. a case id or the listing's filter.
    pub subject: String,
    /// The purpose the reader stated, if any.
    pub purpose: Option<String>,
}

/// What the access log records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, strum::VariantNames)]
pub enum AccessEvent {
    /// Private data was read.
    PrivateDataRead {
        /// What kind of private data.
        resource: String,
        /// Which record.
        subject: String,
        /// The stated purpose.
        purpose: Option<String>,
        /// Who read it.
        read_by: UserId,
        /// When.
        read_at: DateTime<Utc>,
    },
}

impl DomainEvent for AccessEvent {
    fn event_type(&self) -> String {
        "PrivateDataRead".to_owned()
    }

    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

/// Why an access could not be recorded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccessError {
    /// This access id holds a record already.
    #[error("access already recorded")]
    AlreadyRecorded,
}

/// One recorded read.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AccessLog {
    /// Whether the read is recorded.
    pub recorded: bool,
}

impl AccessLog {
    /// Decides the event recording a read.
    pub fn decide(&self, command: Authored<RecordAccess>) -> Result<Vec<AccessEvent>, AccessError> {
        if self.recorded {
            return Err(AccessError::AlreadyRecorded);
        }
        let Authored { actor, at, command } = command;
        Ok(vec![AccessEvent::PrivateDataRead {
            resource: command.resource,
            subject: command.subject,
            purpose: command.purpose,
            read_by: actor.sub,
            read_at: at,
        }])
    }
}

impl Aggregate for AccessLog {
    const TYPE: &'static str = "AccessLog";
    type Command = Authored<RecordAccess>;
    type Event = AccessEvent;
    type Error = AccessError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), AccessError> {
        for event in self.decide(command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, _event: AccessEvent) {
        self.recorded = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Actor, Role};

    fn read() -> Authored<RecordAccess> {
        Authored {
            actor: Actor {
                sub: UserId::parse("auditor-1").unwrap(),
                roles: vec![Role::Auditor],
                org: None,
            },
            at: DateTime::parse_from_rfc3339("2026-11-24T10:00:00Z")
                .unwrap()
                .to_utc(),
            command: RecordAccess {
                resource: "case_history".into(),
                subject: "c-1".into(),
                purpose: Some("review".into()),
            },
        }
    }

    #[tokio::test]
    async fn a_read_is_recorded_once() {
        let executor =
            cqrs_es::test::TestFramework::<AccessLog>::with(()).given_no_previous_events();
        let events = executor.when_async(read()).await.inspect_result().unwrap();
        assert_eq!(events.len(), 1);
        cqrs_es::test::TestFramework::<AccessLog>::with(())
            .given(events)
            .when_async(read())
            .await
            .then_expect_error(AccessError::AlreadyRecorded);
    }
}
