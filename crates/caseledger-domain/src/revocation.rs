//! The `SessionRevocation` stream: an administrator revokes the sessions of one signed-in
//! subject (a user id, the `sub` of its tokens). One stream per `sub`; each revocation is an
//! event, so who revoked whom, when and why is in the tamper-evident log. The HTTP edge refuses
//! every token of that `sub` issued at or before the latest revocation.

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use crate::actor::{Authored, Role};
use crate::case::RefusalKind;
use crate::ids::UserId;
use crate::text::LongText;

/// What can be done to a subject's sessions.
#[derive(Debug, Clone, PartialEq)]
pub enum RevocationCommand {
    /// Revoke every token of `sub` issued so far.
    Revoke {
        /// Whose sessions.
        sub: UserId,
        /// Why (kept in the log).
        reason: LongText,
    },
}

impl RevocationCommand {
    /// The command's name (metrics, idempotency fingerprints).
    pub fn name(&self) -> &'static str {
        match self {
            RevocationCommand::Revoke { .. } => "revoke_sessions",
        }
    }
}

/// What the stream records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, strum::VariantNames)]
pub enum RevocationEvent {
    /// Every token of `sub` issued at or before `revoked_at` is refused from now on.
    SessionsRevoked {
        /// Whose sessions.
        sub: UserId,
        /// Why.
        reason: LongText,
        /// The administrator.
        revoked_by: UserId,
        /// When: tokens with an `iat` at or before this instant are refused.
        revoked_at: DateTime<Utc>,
    },
}

impl DomainEvent for RevocationEvent {
    fn event_type(&self) -> String {
        match self {
            RevocationEvent::SessionsRevoked { .. } => "SessionsRevoked".to_owned(),
        }
    }

    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

/// Why a revocation is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RevocationError {
    /// Only an administrator revokes sessions.
    #[error("only an admin may revoke sessions")]
    NotAdmin,
    /// The command's `sub` is not this stream's.
    #[error("the revocation names another subject than its stream")]
    WrongStream,
}

impl RevocationError {
    /// The stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            RevocationError::NotAdmin => "role_not_allowed",
            RevocationError::WrongStream => "revocation_conflict",
        }
    }

    /// How the refusal is to be understood.
    pub fn kind(&self) -> RefusalKind {
        match self {
            RevocationError::NotAdmin => RefusalKind::Forbidden,
            RevocationError::WrongStream => RefusalKind::Conflict,
        }
    }
}

/// The revocations of one subject.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SessionRevocation {
    /// Whose sessions (set by the first revocation).
    pub sub: Option<UserId>,
    /// The latest revocation.
    pub revoked_at: Option<DateTime<Utc>>,
    /// How many revocations.
    pub revocations: u32,
}

impl SessionRevocation {
    /// Decides a command.
    pub fn decide(
        &self,
        command: Authored<RevocationCommand>,
    ) -> Result<Vec<RevocationEvent>, RevocationError> {
        let Authored { actor, at, command } = command;
        if !actor.has(Role::Admin) {
            return Err(RevocationError::NotAdmin);
        }
        match command {
            RevocationCommand::Revoke { sub, reason } => {
                if self.sub.as_ref().is_some_and(|own| *own != sub) {
                    return Err(RevocationError::WrongStream);
                }
                Ok(vec![RevocationEvent::SessionsRevoked {
                    sub,
                    reason,
                    revoked_by: actor.sub,
                    revoked_at: at,
                }])
            }
        }
    }

    /// Applies a recorded event.
    pub fn evolve(&mut self, event: &RevocationEvent) {
        match event {
            RevocationEvent::SessionsRevoked {
                sub, revoked_at, ..
            } => {
                self.sub = Some(sub.clone());
                self.revoked_at = Some(*revoked_at);
                self.revocations += 1;
            }
        }
    }
}

impl Aggregate for SessionRevocation {
    const TYPE: &'static str = "SessionRevocation";
    type Command = Authored<RevocationCommand>;
    type Event = RevocationEvent;
    type Error = RevocationError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), RevocationError> {
        for event in self.decide(command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: RevocationEvent) {
        self.evolve(&event);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Actor;

    fn by(role: Role, at: &str) -> Authored<RevocationCommand> {
        Authored {
            actor: Actor {
                sub: UserId::parse("root-admin").unwrap(),
                roles: vec![role],
                org: None,
            },
            at: DateTime::parse_from_rfc3339(at).unwrap().to_utc(),
            command: RevocationCommand::Revoke {
                sub: UserId::parse("alice").unwrap(),
                reason: LongText::parse("laptop stolen").unwrap(),
            },
        }
    }

    #[test]
    fn an_admin_revokes_and_a_later_revocation_moves_the_time() {
        let mut state = SessionRevocation::default();
        for at in ["2026-11-24T10:00:00Z", "2026-11-25T10:00:00Z"] {
            let events = state.decide(by(Role::Admin, at)).unwrap();
            assert_eq!(events.len(), 1);
            state.evolve(&events[0]);
        }
        assert_eq!(state.revocations, 2);
        assert_eq!(
            state.revoked_at.unwrap().to_rfc3339(),
            "2026-11-25T10:00:00+00:00"
        );
        assert_eq!(
            state.decide(by(Role::Auditor, "2026-11-26T10:00:00Z")),
            Err(RevocationError::NotAdmin)
        );
    }
}
