//! What a command needs to know beyond its own aggregate, and what the server chooses for it:
//! the SLA policy and calendar in force, the expert pool, a program's committee roster, whether
//! another stream exists, a new case's public number and verifier code, a draw's random seed.
//! Every entry point (the HTTP API, the CLI, an importer) asks the application, so a command
//! is completed the same way whoever sends it.
//!
//! A fact read here that can change before the append (a quota's count) is also handed to the
//! store as an [`AppendCondition`] (see [`crate::commands::Stream`]); the facts that only ever
//! become true (a stream exists, a case's subject) cannot be invalidated between the read and
//! the append, so reading them once is enough. Reads go to the view first and to the log when
//! the view lags, so an id a 201 just named is found at once.

use std::collections::BTreeSet;
use std::sync::Arc;

use caseledger_domain::case::{CaseEvent, SlaContext};
use caseledger_domain::consultation::{DrawSeed, PoolEntry};
use caseledger_domain::{CaseId, SubjectId, UserId};
use caseledger_store::{AppendCondition, StoreError};
use sha2::{Digest, Sha256};

use crate::App;

/// What a registration hands to the registrant beside the ids: the public case number and the
/// verifier code, which is never stored in clear (only [`verifier_hash`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// The public case number.
    pub case_number: String,
    /// The verifier code.
    pub verifier: String,
}

/// The letters of a verifier code: no look-alikes (0/O, 1/I/L).
const VERIFIER_ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";

/// A ten-character verifier code from an alphabet without look-alike characters.
pub fn new_verifier() -> String {
    let mut bits = u128::from_le_bytes(*uuid::Uuid::new_v4().as_bytes());
    (0..10)
        .map(|_| {
            let index = (bits % VERIFIER_ALPHABET.len() as u128) as usize;
            bits /= VERIFIER_ALPHABET.len() as u128;
            char::from(VERIFIER_ALPHABET[index])
        })
        .collect()
}

/// The stored form of a verifier code: lowercase hex SHA-256 of its upper-case text.
pub fn verifier_hash(verifier: &str) -> String {
    hex::encode(Sha256::digest(
        verifier.trim().to_ascii_uppercase().as_bytes(),
    ))
}

impl App {
    /// The SLA policy and the working-day calendar a case command is decided with.
    pub fn sla_context(&self) -> SlaContext {
        SlaContext {
            policy: Arc::new(self.reference.sla_policy().clone()),
            calendar: self.reference.calendar().clone(),
        }
    }

    /// A new case's receipt: `C` + the registration date in China Standard Time + six random
    /// digits, and a new verifier code.
    pub fn new_receipt(&self) -> Receipt {
        let cst = chrono::FixedOffset::east_opt(8 * 3600).expect("a valid offset");
        let date = self.now().with_timezone(&cst).format("%Y%m%d");
        let number_bits = u128::from_le_bytes(*uuid::Uuid::new_v4().as_bytes());
        Receipt {
            case_number: format!("C{date}-{:06}", number_bits % 1_000_000),
            verifier: new_verifier(),
        }
    }

    /// A fresh seed for a random draw (a panel, reviewers), from the operating system. It is
    /// recorded with the draw, so anyone can replay it.
    pub fn draw_seed(&self) -> DrawSeed {
        let mut seed = [0_u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut seed);
        DrawSeed::from_bytes(seed)
    }

    /// The expert pool as it stands now.
    pub async fn expert_pool(&self) -> Result<Vec<PoolEntry>, StoreError> {
        self.db.expert_pool(None).await
    }

    /// Whether a stream of `aggregate_type` named `id` exists: in its view (`in_view`), or, when
    /// the view has not caught up, in the log.
    async fn exists(
        &self,
        aggregate_type: &str,
        id: &str,
        in_view: bool,
    ) -> Result<bool, StoreError> {
        Ok(in_view || self.db.current_version(aggregate_type, id).await? > 0)
    }

    /// Whether the case `case_id` is registered.
    pub async fn case_exists(&self, case_id: &CaseId) -> Result<bool, StoreError> {
        let id = case_id.to_string();
        let in_view = self.db.case_view(&id).await?.is_some();
        self.exists(caseledger_store::cases::AGGREGATE_TYPE, &id, in_view)
            .await
    }

    /// Whether the subject `subject_id` is registered.
    pub async fn subject_exists(&self, subject_id: &SubjectId) -> Result<bool, StoreError> {
        let id = subject_id.as_str();
        let in_view = self.db.subject_view(id).await?.is_some();
        self.exists(caseledger_store::subjects::AGGREGATE_TYPE, id, in_view)
            .await
    }

    /// The first event of the case `case_id` in the log, if it is its registration.
    async fn case_registration(&self, case_id: &CaseId) -> Result<Option<CaseEvent>, StoreError> {
        let id = case_id.to_string();
        let history = self
            .db
            .stream_history(caseledger_store::cases::AGGREGATE_TYPE, &id)
            .await?;
        let Some(first) = history.first() else {
            return Ok(None);
        };
        match serde_json::from_str::<CaseEvent>(&first.payload) {
            Ok(event @ CaseEvent::CaseRegistered { .. }) => Ok(Some(event)),
            Ok(_) => Ok(None),
            Err(error) => Err(StoreError::Invariant(format!("reading case {id}: {error}"))),
        }
    }

    /// The subject a case was raised for (`None` for an unknown case). A case's subject never
    /// changes.
    pub async fn case_subject(&self, case_id: &CaseId) -> Result<Option<SubjectId>, StoreError> {
        if let Some(view) = self.db.case_view(&case_id.to_string()).await? {
            return Ok(SubjectId::parse(view.enterprise_id).ok());
        }
        Ok(match self.case_registration(case_id).await? {
            Some(CaseEvent::CaseRegistered { enterprise_id, .. }) => Some(enterprise_id),
            _ => None,
        })
    }

    /// The public number a case was registered with, from the log. `None` for an unknown case
    /// or one registered without a number; a command that needs it then refuses.
    pub async fn case_number(&self, case_id: &CaseId) -> Result<Option<String>, StoreError> {
        Ok(match self.case_registration(case_id).await? {
            Some(CaseEvent::CaseRegistered { case_number, .. }) => case_number,
            _ => None,
        })
    }

    /// The program a nomination belongs to, from its first event in the log (`None` for an
    /// unknown nomination, which the aggregate then refuses).
    pub async fn program_of_nomination(
        &self,
        nomination_id: &str,
    ) -> Result<Option<String>, StoreError> {
        let history = self
            .db
            .stream_history(caseledger_store::rewards::NOMINATION_TYPE, nomination_id)
            .await?;
        Ok(history
            .first()
            .and_then(|e| serde_json::from_str::<serde_json::Value>(&e.payload).ok())
            .and_then(|v| {
                v["NominationSubmitted"]["program_id"]
                    .as_str()
                    .map(str::to_owned)
            }))
    }

    /// The committee roster of a nomination's program now, folded from the program's log (the
    /// view may lag a roster change made a moment ago). Empty when the nomination is unknown:
    /// the nomination itself then refuses.
    pub async fn committee_of_nomination(
        &self,
        nomination_id: &str,
    ) -> Result<BTreeSet<UserId>, StoreError> {
        let Some(program_id) = self.program_of_nomination(nomination_id).await? else {
            return Ok(BTreeSet::new());
        };
        Ok(self
            .db
            .reward_program_from_log(&program_id)
            .await?
            .and_then(|program| program.terms)
            .map(|terms| terms.committee)
            .unwrap_or_default())
    }

    /// The awards a nomination's program has approved, and the condition that the count is
    /// unchanged when the approval is appended (the quota). `None` for an unknown nomination.
    pub async fn program_awards(
        &self,
        nomination_id: &str,
    ) -> Result<Option<(u32, AppendCondition)>, StoreError> {
        let Some(program_id) = self.program_of_nomination(nomination_id).await? else {
            return Ok(None);
        };
        let awards = self.db.program_awards(&program_id).await?;
        Ok(Some((
            awards,
            AppendCondition::ProgramAwards { program_id, awards },
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifier_codes_avoid_look_alikes_and_hash_case_blind() {
        let code = new_verifier();
        assert_eq!(code.len(), 10);
        assert!(code.bytes().all(|b| VERIFIER_ALPHABET.contains(&b)));
        assert_eq!(
            verifier_hash(&code),
            verifier_hash(&format!(" {} ", code.to_ascii_lowercase()))
        );
        assert_ne!(verifier_hash("ABCDEFGHJK"), verifier_hash("ABCDEFGHJM"));
    }
}
