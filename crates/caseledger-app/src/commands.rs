//! The write path of every command, whoever sends it: the event metadata (who, when, in which
//! request), the idempotency key (claimed before, answered in the transaction that appends, or
//! replayed), `If-Match`, the bounded re-decision of a command that lost a race, and waking the
//! projector. What a refusal answers is the caller's business: it hands [`App::submit`] an
//! encoder, and the answer recorded for a key is whatever that encoder says.

use std::future::Future;
use std::sync::Arc;

use caseledger_domain::case::RefusalKind;
use caseledger_domain::{Actor, Authored};
use caseledger_store::idempotency::Claim;
use caseledger_store::{
    AppendCondition, AppendTerms, Committed, ExecuteError, KeyAnswer, Metadata, StoreError,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::App;

/// How a client shaped a command.
#[derive(Debug, Clone, Default)]
pub struct CommandOptions {
    /// The version the client expects (`If-Match: "N"`).
    pub if_match: Option<u64>,
    /// The client's idempotency key.
    pub idempotency_key: Option<String>,
    /// The request id, recorded on the events.
    pub request_id: Option<String>,
}

/// The metadata stored beside every event of a command: who acted, for whom, in which request.
pub fn event_metadata(
    actor: &Actor,
    at: chrono::DateTime<chrono::Utc>,
    options: &CommandOptions,
) -> Metadata {
    let mut metadata = Metadata::new();
    metadata.insert("actor_sub".into(), actor.sub.to_string());
    metadata.insert(
        "actor_roles".into(),
        actor
            .roles
            .iter()
            .map(|role| role.as_str())
            .collect::<Vec<_>>()
            .join(","),
    );
    if let Some(org) = &actor.org {
        metadata.insert("actor_org".into(), org.clone());
    }
    metadata.insert(
        "occurred_at".into(),
        at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
    );
    if let Some(request_id) = &options.request_id {
        metadata.insert("request_id".into(), request_id.clone());
    }
    if let Some(key) = &options.idempotency_key {
        metadata.insert("idempotency_key".into(), key.clone());
    }
    metadata
}

/// A hash identifying a request for idempotency: method, path and the parsed body re-serialised
/// (so white space and key order do not matter).
pub fn fingerprint(method: &str, path: &str, body: &impl Serialize) -> String {
    let mut hasher = Sha256::new();
    hasher.update(method.as_bytes());
    hasher.update(b" ");
    hasher.update(path.as_bytes());
    hasher.update(b"\n");
    hasher.update(serde_json::to_vec(body).unwrap_or_default());
    hex::encode(hasher.finalize())
}

/// A refusal of an aggregate's `decide`: a stable code and how to understand it.
pub trait Refusal: std::error::Error {
    /// The stable machine-readable code.
    fn code(&self) -> &'static str;
    /// How the refusal should be understood.
    fn kind(&self) -> RefusalKind;
}

macro_rules! refusal {
    ($($error:ty),*) => {$(
        impl Refusal for $error {
            fn code(&self) -> &'static str {
                <$error>::code(self)
            }
            fn kind(&self) -> RefusalKind {
                <$error>::kind(self)
            }
        }
    )*};
}

refusal!(
    caseledger_domain::case::CaseError,
    caseledger_domain::subject::SubjectError,
    caseledger_domain::portfolio::PortfolioError,
    caseledger_domain::appraisal::AppraisalError,
    caseledger_domain::expert::ExpertError,
    caseledger_domain::consultation::ConsultationError,
    caseledger_domain::reward::program::ProgramError,
    caseledger_domain::reward::nomination::NominationError,
    caseledger_domain::revocation::RevocationError,
    caseledger_domain::person::PersonError
);

/// A command of the domain, as the application sends it: it has a name (for metrics and the
/// idempotency fingerprint) and can be sent again.
pub trait DomainCommand: Clone + Send + Sync + 'static {
    /// The command's name, e.g. `dispatch`.
    fn name(&self) -> &'static str;
}

macro_rules! domain_commands {
    ($($command:ty),*) => {$(
        impl DomainCommand for $command {
            fn name(&self) -> &'static str {
                <$command>::name(self)
            }
        }
    )*};
}

domain_commands!(
    caseledger_domain::case::CaseCommand,
    caseledger_domain::subject::SubjectCommand,
    caseledger_domain::portfolio::PortfolioCommand,
    caseledger_domain::appraisal::AppraisalCommand,
    caseledger_domain::expert::ExpertCommand,
    caseledger_domain::consultation::ConsultationCommand,
    caseledger_domain::reward::program::ProgramCommand,
    caseledger_domain::reward::nomination::NominationCommand,
    caseledger_domain::revocation::RevocationCommand,
    caseledger_domain::person::PersonCommand
);

/// An aggregate's command type: a domain command with its author and time.
pub trait Envelope: Clone + Send + Sync + 'static {
    /// The domain command.
    type Inner: DomainCommand;
    /// Wraps `command`.
    fn wrap(actor: Actor, at: chrono::DateTime<chrono::Utc>, command: Self::Inner) -> Self;
    /// The domain command, to adjust before a retry.
    fn inner_mut(&mut self) -> &mut Self::Inner;
}

impl<C: DomainCommand> Envelope for Authored<C> {
    type Inner = C;

    fn wrap(actor: Actor, at: chrono::DateTime<chrono::Utc>, command: C) -> Self {
        Authored { actor, at, command }
    }

    fn inner_mut(&mut self) -> &mut C {
        &mut self.command
    }
}

/// The domain command a stream's aggregate takes (inside its [`Authored`] envelope).
pub type CommandOf<A> = <<A as cqrs_es::Aggregate>::Command as Envelope>::Inner;

/// An aggregate the application runs commands on, with the facts from other streams its
/// decisions rest on.
pub trait Stream:
    cqrs_es::Aggregate<Command: Envelope, Services = (), Error: Refusal + Send + Sync + 'static>
    + 'static
{
    /// Completes `command` with the facts of other streams that can change under it, and names
    /// them as conditions checked in the transaction that appends its events. Called again on
    /// every attempt, so a retry is decided on the new facts. None by default.
    fn conditions(
        app: &App,
        aggregate_id: &str,
        command: &mut CommandOf<Self>,
    ) -> impl Future<Output = Result<Vec<AppendCondition>, StoreError>> + Send {
        let _ = (app, aggregate_id, command);
        async { Ok(Vec::new()) }
    }
}

impl Stream for caseledger_domain::case::EnterpriseCase {}
impl Stream for caseledger_domain::subject::Subject {}
impl Stream for caseledger_domain::portfolio::LiaisonPortfolio {}
impl Stream for caseledger_domain::appraisal::AppraisalCampaign {}
impl Stream for caseledger_domain::expert::Expert {}
impl Stream for caseledger_domain::consultation::ConsultationRequest {}
impl Stream for caseledger_domain::reward::program::RewardProgram {}
impl Stream for caseledger_domain::revocation::SessionRevocation {}
impl Stream for caseledger_domain::person::Person {}

impl Stream for caseledger_domain::reward::nomination::RewardNomination {
    /// An approval is decided on the number of awards its program has made (the quota). The
    /// count is read for each attempt and read again in the transaction that appends the
    /// approval; when another approval of the program committed in between, the append is
    /// refused as a conflict and the approval decided again on the new count.
    async fn conditions(
        app: &App,
        aggregate_id: &str,
        command: &mut CommandOf<Self>,
    ) -> Result<Vec<AppendCondition>, StoreError> {
        let caseledger_domain::reward::nomination::NominationCommand::Approve {
            awards_in_program,
            ..
        } = command
        else {
            return Ok(Vec::new());
        };
        let Some((awards, condition)) = app.program_awards(aggregate_id).await? else {
            return Ok(Vec::new());
        };
        *awards_in_program = awards;
        Ok(vec![condition])
    }
}

/// One command for the application to run, whoever sends it (the HTTP API, the CLI, an
/// importer): who, on which aggregate, what, and how.
pub struct Call<A: Stream> {
    /// Who sends it.
    pub actor: Actor,
    /// The aggregate it goes to.
    pub aggregate_id: String,
    /// The domain command.
    pub command: CommandOf<A>,
    /// `If-Match`, the idempotency key, the request id.
    pub options: CommandOptions,
    /// The request's fingerprint (see [`fingerprint`]), for the idempotency key.
    pub fingerprint: String,
    /// The status recorded with a success for the key (201 for a create, 200 otherwise).
    pub success_status: u16,
    /// What the command creates inside the aggregate, when the caller chose its id.
    pub created_id: Option<String>,
    /// A new case's public number, reported (and recorded) with the ids.
    pub case_number: Option<String>,
}

impl<A: Stream> Call<A> {
    /// `command` on `aggregate_id` by `actor`, with no options. Its fingerprint names the stream,
    /// the aggregate and the command, so an idempotency key reused for another command or
    /// aggregate is refused (`Failure::KeyReused`); a caller that can tell two commands of the
    /// same name apart (the API hashes the body) sets a finer one.
    pub fn new(actor: Actor, aggregate_id: impl ToString, command: CommandOf<A>) -> Self {
        let aggregate_id = aggregate_id.to_string();
        let path = format!("{}/{aggregate_id}", A::TYPE);
        let fingerprint = fingerprint("CALL", &path, &command.name());
        Self {
            actor,
            aggregate_id,
            command,
            options: CommandOptions::default(),
            fingerprint,
            success_status: 200,
            created_id: None,
            case_number: None,
        }
    }
}

/// What a committed command reports, and the body recorded for its idempotency key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Accepted {
    /// The aggregate's id.
    pub id: String,
    /// Its version after the command.
    pub version: u64,
    /// The feed position of the last event written.
    pub position: i64,
    /// What the command created inside the aggregate, when the server chose its id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_id: Option<String>,
    /// A new case's public number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub case_number: Option<String>,
    /// A case's verifier code, handed out once: never recorded, never replayed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verifier: Option<String>,
}

/// One command on its way to the store.
pub struct Submission<'a> {
    /// The command's name (for metrics and logs).
    pub name: &'static str,
    /// Who sends it.
    pub actor: &'a Actor,
    /// `If-Match`, the idempotency key, the request id.
    pub options: &'a CommandOptions,
    /// The request's fingerprint (see [`fingerprint`]).
    pub fingerprint: String,
    /// The status recorded with a success for the key (201 for a create, 200 otherwise).
    pub success_status: u16,
    /// What the command creates inside the aggregate, when the server chose its id.
    pub created_id: Option<String>,
    /// A new case's public number, reported (and recorded) with the ids.
    pub case_number: Option<String>,
}

/// How a submitted command settled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settled {
    /// Committed now.
    Committed(Accepted),
    /// Committed earlier by a process that died before answering; found in the log.
    Recovered(Accepted),
    /// The key's first answer, as recorded.
    Replayed {
        /// Its status.
        status: u16,
        /// Its body.
        body: String,
    },
}

/// Why a submitted command did not settle.
#[derive(Debug)]
pub enum Failure<E: std::error::Error> {
    /// The store refused or failed it.
    Execute(ExecuteError<E>),
    /// The key was used for another request.
    KeyReused,
    /// A request with the key is still running.
    KeyInProgress,
    /// Claiming or answering the key failed.
    Store(StoreError),
}

impl<E: std::error::Error> From<StoreError> for Failure<E> {
    fn from(error: StoreError) -> Self {
        Failure::Store(error)
    }
}

/// What [`App::submit`] did: how the command settled and how many times it was decided again
/// after losing a race.
#[derive(Debug)]
pub struct Report<E: std::error::Error> {
    /// The outcome.
    pub outcome: Result<Settled, Failure<E>>,
    /// Re-decisions after a lost race.
    pub retries: u32,
}

/// How many times an unconditional command is decided: the first attempt and the retries after
/// losing to a concurrent append on its aggregate. Each loss is a different commit that landed
/// between the attempt's load and its write, so this many commands sent at once on one aggregate
/// all commit.
pub const COMMAND_ATTEMPTS: u32 = 8;

/// A short random pause before retrying a command that lost a race (at most 2^attempt ms,
/// capped at 32 ms), so that the losers of one race do not meet again in the next.
async fn backoff(attempt: u32) {
    let ceiling_micros = 1_000u64 << attempt.min(5);
    let micros = rand::Rng::gen_range(&mut rand::thread_rng(), 0..=ceiling_micros);
    tokio::time::sleep(std::time::Duration::from_micros(micros)).await;
}

/// Whether an answer is final for its idempotency key. Conflicts, failed preconditions and
/// server-side failures are not: the client is expected to retry those with the same key.
fn is_final(status: u16) -> bool {
    (200..300).contains(&status) || ((400..500).contains(&status) && status != 409 && status != 412)
}

impl App {
    /// Runs a command under its idempotency key: `execute` appends it (with the terms that
    /// record the key's answer in the same transaction), and is called again, up to
    /// [`COMMAND_ATTEMPTS`] times, when a command without `If-Match` loses to a concurrent append
    /// on its aggregate (the store decides it again from the log; the client stated no version,
    /// so the new state is the one it asks to change). A command with `If-Match` gets its
    /// conflict. A failure is recorded for the key as `answer` encodes it when that answer is
    /// final (a refusal), and the key released otherwise (a conflict, a failed precondition, a
    /// server fault), so a retry runs the command again.
    ///
    /// `created_id` is lost in one case: a retry that finds the first attempt's claim stale and
    /// its command committed answers from the log, which has the aggregate's version and position
    /// but not what the lost attempt chose.
    pub async fn submit<F, Fut, E>(
        &self,
        submission: Submission<'_>,
        answer: impl Fn(&ExecuteError<E>) -> (u16, String),
        mut execute: F,
    ) -> Report<E>
    where
        F: FnMut(AppendTerms) -> Fut,
        Fut: std::future::Future<Output = Result<Committed, ExecuteError<E>>>,
        E: std::error::Error,
    {
        let mut retries = 0;
        let outcome = self
            .settle(&submission, &answer, &mut execute, &mut retries)
            .await;
        Report { outcome, retries }
    }

    /// Runs `call`: stamps it with its author, the time and the metadata, completes it with the
    /// facts of other streams ([`Stream::conditions`], again on every attempt), and appends it
    /// through the aggregate cache under [`App::submit`]'s rules (idempotency, `If-Match`,
    /// bounded re-decision). `answer` encodes a failure for the key, as in [`App::submit`].
    pub async fn execute<A: Stream>(
        &self,
        call: Call<A>,
        answer: impl Fn(&ExecuteError<A::Error>) -> (u16, String),
    ) -> Report<A::Error>
    where
        A::Command: Clone,
    {
        let now = self.now();
        let metadata = event_metadata(&call.actor, now, &call.options);
        let submission = Submission {
            name: call.command.name(),
            actor: &call.actor,
            options: &call.options,
            fingerprint: call.fingerprint.clone(),
            success_status: call.success_status,
            created_id: call.created_id.clone(),
            case_number: call.case_number.clone(),
        };
        let authored =
            <A::Command as Envelope>::wrap(call.actor.clone(), now, call.command.clone());
        let (expected, aggregate_id) = (call.options.if_match, call.aggregate_id.as_str());
        self.submit(submission, answer, |mut terms| {
            let (mut authored, metadata) = (authored.clone(), metadata.clone());
            async move {
                let conditions = A::conditions(self, aggregate_id, authored.inner_mut()).await?;
                terms.conditions.extend(conditions);
                self.db
                    .execute_cached_with::<A>(
                        &self.aggregates,
                        aggregate_id,
                        authored,
                        expected,
                        metadata,
                        &(),
                        &terms,
                    )
                    .await
            }
        })
        .await
    }

    async fn settle<F, Fut, E>(
        &self,
        submission: &Submission<'_>,
        answer: &impl Fn(&ExecuteError<E>) -> (u16, String),
        execute: &mut F,
        retries: &mut u32,
    ) -> Result<Settled, Failure<E>>
    where
        F: FnMut(AppendTerms) -> Fut,
        Fut: std::future::Future<Output = Result<Committed, ExecuteError<E>>>,
        E: std::error::Error,
    {
        let principal = submission.actor.sub.as_str();
        let key = submission.options.idempotency_key.as_deref();
        if let Some(key) = key {
            match self
                .db
                .claim_idempotency_key(principal, key, &submission.fingerprint)
                .await?
            {
                Claim::Claimed => {}
                Claim::Replay { status, body } => return Ok(Settled::Replayed { status, body }),
                Claim::Mismatch => return Err(Failure::KeyReused),
                Claim::InProgress => return Err(Failure::KeyInProgress),
                Claim::Stale => {
                    // The first request's process died before answering. The log says whether
                    // its command committed: if so, answer as it would have; if not, run it now.
                    if let Some((id, version, position)) =
                        self.db.committed_with_key(principal, key).await?
                    {
                        let accepted = Accepted {
                            id,
                            version: version.max(0) as u64,
                            position,
                            created_id: None,
                            // This request's case number is not the committed one; the case's
                            // number is on the case itself.
                            case_number: None,
                            verifier: None,
                        };
                        let body = serde_json::to_string(&accepted).unwrap_or_default();
                        // The command is in the log: its answer is this success even if
                        // recording it fails (the next retry answers from the log again).
                        if let Err(error) = self
                            .db
                            .complete_idempotency_key(
                                principal,
                                key,
                                submission.success_status,
                                &body,
                            )
                            .await
                        {
                            tracing::warn!(%error, "recording a recovered idempotency answer failed");
                        }
                        return Ok(Settled::Recovered(accepted));
                    }
                    if !self.db.take_over_idempotency_key(principal, key).await? {
                        return Err(Failure::KeyInProgress);
                    }
                }
            }
        }
        // A command that commits records its key's answer in the transaction that appends its
        // events: once it is in the log, a retry with the key replays that answer, whatever
        // fails after the commit.
        let (created_id, case_number) = (
            submission.created_id.clone(),
            submission.case_number.clone(),
        );
        let accepted = move |committed: &Committed| Accepted {
            id: committed.aggregate_id.clone(),
            version: committed.version,
            position: committed.position,
            created_id: created_id.clone(),
            case_number: case_number.clone(),
            verifier: None,
        };
        let terms = AppendTerms {
            answer: key.map(|key| KeyAnswer {
                principal: principal.to_owned(),
                key: key.to_owned(),
                status: submission.success_status,
                body: {
                    let accepted = accepted.clone();
                    // A struct of strings and integers always serialises.
                    Arc::new(move |committed: &Committed| {
                        serde_json::to_string(&accepted(committed)).unwrap_or_default()
                    })
                },
            }),
            conditions: Vec::new(),
        };
        let mut attempt = 1;
        let outcome = loop {
            match execute(terms.clone()).await {
                Err(ExecuteError::Conflict)
                    if submission.options.if_match.is_none() && attempt < COMMAND_ATTEMPTS =>
                {
                    *retries += 1;
                    backoff(attempt).await;
                    attempt += 1;
                }
                outcome => break outcome,
            }
        };
        match outcome {
            Ok(committed) => {
                self.projector.wake();
                // Events written means the key's answer was written with them; a command that
                // changed nothing records its answer here.
                if committed.event_types.is_empty() {
                    if let Some(key) = key {
                        let body = serde_json::to_string(&accepted(&committed)).unwrap_or_default();
                        self.db
                            .complete_idempotency_key(
                                principal,
                                key,
                                submission.success_status,
                                &body,
                            )
                            .await?;
                    }
                }
                Ok(Settled::Committed(accepted(&committed)))
            }
            Err(error) => {
                // Only answers that committed nothing get here: a refusal, a conflict or a
                // failure.
                if let Some(key) = key {
                    let (status, body) = answer(&error);
                    if is_final(status) {
                        self.db
                            .complete_idempotency_key(principal, key, status, &body)
                            .await?;
                    } else {
                        self.db.release_idempotency_key(principal, key).await?;
                    }
                }
                Err(Failure::Execute(error))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_refusals_and_successes_are_final_for_a_key() {
        assert!(is_final(200) && is_final(201) && is_final(403) && is_final(422));
        assert!(!is_final(409) && !is_final(412) && !is_final(500) && !is_final(503));
    }

    #[test]
    fn a_system_actor_without_request_gets_who_and_when_only() {
        let actor = Actor {
            sub: caseledger_domain::UserId::parse(crate::timers::TIMER_ACTOR).unwrap(),
            roles: Vec::new(),
            org: None,
        };
        let at = chrono::DateTime::parse_from_rfc3339("2026-12-03T01:02:03.000004Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        let metadata = event_metadata(&actor, at, &CommandOptions::default());
        let mut entries: Vec<(&str, &str)> = metadata
            .iter()
            .map(|(key, value)| (key.as_str(), value.as_str()))
            .collect();
        entries.sort();
        assert_eq!(
            entries,
            [
                ("actor_roles", ""),
                ("actor_sub", "system:timers"),
                ("occurred_at", "2026-12-03T01:02:03.000004Z"),
            ]
        );
    }

    #[derive(Serialize, Deserialize)]
    struct Body {
        a: u32,
        b: String,
    }

    #[test]
    fn the_fingerprint_ignores_layout_but_not_content() {
        let parse = |text: &str| serde_json::from_str::<Body>(text).unwrap();
        let a = parse(r#"{"a": 1, "b": "x"}"#);
        let b = parse("{ \"b\":\"x\",\n  \"a\":1 }");
        assert_eq!(fingerprint("POST", "/p", &a), fingerprint("POST", "/p", &b));
        let c = parse(r#"{"a": 2, "b": "x"}"#);
        assert_ne!(fingerprint("POST", "/p", &a), fingerprint("POST", "/p", &c));
        assert_ne!(fingerprint("POST", "/p", &a), fingerprint("POST", "/q", &a));
    }
}
