//! The caseledger domain: what a case, a subject (enterprise, institute, university, talent), a
//! liaison portfolio, an appraisal campaign, an expert of the advisory pool, a consultation
//! request, a reward program and a reward nomination are, which commands they accept, which
//! events they record and which rules decide between them; the department KPI formulas over
//! case events; and the reward decision audit.
//!
//! Architecture invariant: this crate does no IO and has no clock or random number generator.
//! Time, identifiers, the acting user and policy versions arrive inside the command
//! ([`Authored`]), so every decision is a pure function of the history and the command. The only
//! framework it knows is the `cqrs-es` `Aggregate` trait; it never names a database, HTTP or a
//! runtime. (`cqrs-es` itself pulls in `tokio` for its test executor; nothing here uses it.)

pub mod access;
pub mod actor;
pub mod appraisal;
pub mod calendar;
pub mod case;
pub mod consultation;
pub mod csv_export;
pub mod expert;
pub mod ids;
pub mod kpi;
pub mod person;
pub mod portfolio;
pub mod privacy;
pub mod reference;
pub mod revocation;
pub mod reward;
pub mod sla;
pub mod streams;
pub mod subject;
pub mod text;

pub use actor::{Actor, Authored, Role};
pub use ids::{
    AppraisalId, CaseId, ConsultationId, DepartmentId, Discipline, ExpertId, IdError, LeaderId,
    NominationId, ObjectionId, PortfolioId, RectificationId, RewardProgramId, SubjectId, UnitId,
    UserId, VisitId,
};
