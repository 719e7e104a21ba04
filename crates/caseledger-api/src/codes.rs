//! The one registry of error codes: every `code` an answer of this API can carry, with the HTTP
//! status it answers with and a one-line meaning. `ApiError` is built from an [`ErrorCode`], so a
//! code that is not registered does not compile; the refusal codes of the domain (`CaseError::code()`
//! and the other aggregates' errors, stable API kept in the domain) are registered here too, with
//! the status their kind maps to, and a test reads the domain's sources to prove it.
//!
//! The registry is exported twice: as the enum of `Problem.code` in the OpenAPI document, and as
//! the README's error-code table, which a test compares with [`readme_table`] (run the tests with
//! `UPDATE_README=1` to rewrite it).
//!
//! A code answers with its registered status everywhere, with two documented exceptions:
//! `request_rejected` carries the status axum chose, and `pledge_required` is 403 on a read.

use axum::http::StatusCode;

macro_rules! error_codes {
    ($($(#[$comment:meta])* $variant:ident = ($code:literal, $status:ident, $meaning:literal),)*) => {
        /// A registered error code. [`ErrorCode::code`] is the stable string clients match on.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $(
                #[doc = $meaning]
                $variant,
            )*
        }

        impl ErrorCode {
            /// Every registered code, in registry order.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];

            /// The stable machine-readable code, e.g. `role_not_allowed`.
            pub const fn code(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $code,)*
                }
            }

            /// The HTTP status an answer with this code carries.
            pub const fn status(self) -> StatusCode {
                match self {
                    $(ErrorCode::$variant => StatusCode::$status,)*
                }
            }

            /// What the code means, in one line.
            pub const fn meaning(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $meaning,)*
                }
            }
        }
    };
}

error_codes! {
    // Answers of the HTTP edge itself (parsing, authentication, reads, the write path).
    MalformedJson = ("malformed_json", BAD_REQUEST, "the body is not valid JSON"),
    InvalidBody = ("invalid_body", BAD_REQUEST, "the body does not fit the request type: a wrong type, a missing or an unknown field"),
    UnreadableBody = ("unreadable_body", BAD_REQUEST, "the body could not be read"),
    InvalidPath = ("invalid_path", BAD_REQUEST, "a path segment is not valid: not UTF-8, or not of the expected type"),
    InvalidQuery = ("invalid_query", BAD_REQUEST, "a query parameter is malformed or of the wrong type"),
    InvalidCursor = ("invalid_cursor", BAD_REQUEST, "the cursor is not one a previous page returned"),
    InvalidIfMatch = ("invalid_if_match", BAD_REQUEST, "If-Match is not a version in quotes, e.g. \"3\""),
    InvalidIdempotencyKey = ("invalid_idempotency_key", BAD_REQUEST, "Idempotency-Key is not 1 to 255 visible ASCII characters"),
    UnknownPosition = ("unknown_position", BAD_REQUEST, "min_position names a feed position no event has"),
    InvalidText = ("invalid_text", BAD_REQUEST, "a NUL character (U+0000) in a body field, a query parameter or the path"),
    RequestRejected = ("request_rejected", BAD_REQUEST, "any other 4xx axum answers itself, answered as a problem with the status axum chose"),
    MissingToken = ("missing_token", UNAUTHORIZED, "no Authorization: Bearer token was sent"),
    InvalidToken = ("invalid_token", UNAUTHORIZED, "the token is malformed, wrongly signed, or names no valid user or role"),
    TokenExpired = ("token_expired", UNAUTHORIZED, "the token has expired"),
    TokenRevoked = ("token_revoked", UNAUTHORIZED, "an administrator revoked the sessions of the token's subject after the token was issued: sign in again"),
    LocalTokensRefused = ("local_tokens_refused", UNAUTHORIZED, "this server signs in through OIDC and refuses tokens signed with its own secret (CASELEDGER_LOCAL_TOKENS)"),
    NoKnownRole = ("no_known_role", FORBIDDEN, "the identity provider's token is valid but grants no caseledger role"),
    RoleNotAllowed = ("role_not_allowed", FORBIDDEN, "your role may not do this (also: the audit listing for non-auditors)"),
    DepartmentNotAllowed = ("department_not_allowed", FORBIDDEN, "department staff may read only their own department's cases and queue"),
    EnterpriseNotAllowed = ("enterprise_not_allowed", FORBIDDEN, "an enterprise may read only its own cases"),
    HistoryNotAvailable = ("history_not_available", FORBIDDEN, "a case's history is for district staff and auditors"),
    NoDepartment = ("no_department", FORBIDDEN, "the token of a department role names no department (org)"),
    NoEnterprise = ("no_enterprise", FORBIDDEN, "an enterprise token names no subject (org)"),
    NotOwnDepartment = ("not_own_department", FORBIDDEN, "department staff may act on or read only their own department"),
    OpinionsPrivateUntilConclusion = ("opinions_private_until_conclusion", FORBIDDEN, "individual expert opinions stay private until the conclusion"),
    CaseNotFound = ("case_not_found", NOT_FOUND, "no such case (also for cases you may not see, and for a wrong case number or verifier in the public lookup)"),
    SubjectNotFound = ("subject_not_found", NOT_FOUND, "no such subject"),
    RevocationNotFound = ("revocation_not_found", NOT_FOUND, "this subject's sessions were never revoked"),
    PortfolioNotFound = ("portfolio_not_found", NOT_FOUND, "no such liaison portfolio"),
    DepartmentNotFound = ("department_not_found", NOT_FOUND, "no such department in the reference data"),
    AppraisalNotFound = ("appraisal_not_found", NOT_FOUND, "no such appraisal campaign (or not published, on the public surface)"),
    RectificationNotFound = ("rectification_not_found", NOT_FOUND, "no such rectification item"),
    ExpertNotFound = ("expert_not_found", NOT_FOUND, "no such expert"),
    ConsultationNotFound = ("consultation_not_found", NOT_FOUND, "no such consultation request"),
    ProgramNotFound = ("program_not_found", NOT_FOUND, "no such reward program"),
    NominationNotFound = ("nomination_not_found", NOT_FOUND, "no such reward nomination"),
    RouteNotFound = ("route_not_found", NOT_FOUND, "no route has this path"),
    MethodNotAllowed = ("method_not_allowed", METHOD_NOT_ALLOWED, "the route does not answer this method"),
    ConcurrentModification = ("concurrent_modification", CONFLICT, "another change was committed first (a command with If-Match); read it again and retry"),
    IdempotencyKeyInProgress = ("idempotency_key_in_progress", CONFLICT, "a request with this Idempotency-Key is still running"),
    VersionMismatch = ("version_mismatch", PRECONDITION_FAILED, "If-Match names another version than the current one"),
    PayloadTooLarge = ("payload_too_large", PAYLOAD_TOO_LARGE, "the body is over 1 MiB"),
    UnsupportedMediaType = ("unsupported_media_type", UNSUPPORTED_MEDIA_TYPE, "the body is not sent as application/json"),
    ValidationFailed = ("validation_failed", UNPROCESSABLE_ENTITY, "values parse but break a constraint; errors: [{field, message}] lists every bad field"),
    IdempotencyKeyReused = ("idempotency_key_reused", UNPROCESSABLE_ENTITY, "this Idempotency-Key was used with another request"),
    RateLimited = ("rate_limited", TOO_MANY_REQUESTS, "too many requests from your address (public endpoints, failed sign-ins) or for this nomination's objections; retry after Retry-After"),
    InternalError = ("internal_error", INTERNAL_SERVER_ERROR, "an internal error; it is logged with the request id and never echoed"),
    ProjectionBehind = ("projection_behind", SERVICE_UNAVAILABLE, "a min_position read was not reached within 5 s; retry after Retry-After"),
    StorageUnavailable = ("storage_unavailable", SERVICE_UNAVAILABLE, "the database is busy or unreachable; retry after Retry-After"),
    RequestTimeout = ("request_timeout", SERVICE_UNAVAILABLE, "the request did not complete within the server's request timeout (CASELEDGER_REQUEST_TIMEOUT); retry after Retry-After"),
    // Refusals of the aggregates (`CaseError::code()` …): 404 not found, 403 forbidden, 409 conflict,
    // 422 rule, as `commands::refusal_error` maps their kind.
    PortfolioAlreadyExists = ("portfolio_already_exists", CONFLICT, "this owner has a portfolio already"),
    NotOwnPortfolio = ("not_own_portfolio", FORBIDDEN, "a district leader may create only their own portfolio"),
    NotPortfolioMember = ("not_portfolio_member", FORBIDDEN, "you do not work on this portfolio"),
    SubjectAlreadyAssigned = ("subject_already_assigned", UNPROCESSABLE_ENTITY, "subject already assigned to this portfolio"),
    SubjectNotAssigned = ("subject_not_assigned", UNPROCESSABLE_ENTITY, "subject not assigned to this portfolio"),
    AssignmentDateInFuture = ("assignment_date_in_future", UNPROCESSABLE_ENTITY, "the assignment date is in the future"),
    VisitDateInFuture = ("visit_date_in_future", UNPROCESSABLE_ENTITY, "the visit date is in the future"),
    VisitBeforeAssignment = ("visit_before_assignment", UNPROCESSABLE_ENTITY, "the visit date is before the subject was assigned"),
    NoParticipants = ("no_participants", UNPROCESSABLE_ENTITY, "a visit needs at least one participant"),
    VisitNotFound = ("visit_not_found", NOT_FOUND, "visit not found"),
    VisitAlreadyRecorded = ("visit_already_recorded", CONFLICT, "visit already recorded"),
    CaseAlreadyLinked = ("case_already_linked", UNPROCESSABLE_ENTITY, "case already linked to this visit"),
    CaseOfAnotherSubject = ("case_of_another_subject", UNPROCESSABLE_ENTITY, "the case belongs to another subject than the visited one"),
    SubjectAlreadyExists = ("subject_already_exists", CONFLICT, "subject already exists"),
    RevocationConflict = ("revocation_conflict", CONFLICT, "a revocation names another subject than its stream"),
    NotOwnSubject = ("not_own_subject", FORBIDDEN, "an enterprise may change only its own contact data"),
    NameUnchanged = ("name_unchanged", UNPROCESSABLE_ENTITY, "the subject already has this name"),
    PersonAlreadyListed = ("person_already_listed", CONFLICT, "this person is already in the people directory; update the entry instead"),
    PersonNotFound = ("person_not_found", NOT_FOUND, "this person is not in the people directory"),
    PersonInactive = ("person_inactive", CONFLICT, "this person is already deactivated"),
    PersonWithoutRoles = ("person_without_roles", UNPROCESSABLE_ENTITY, "a directory entry needs at least one role"),
    ExpertAlreadyExists = ("expert_already_exists", CONFLICT, "expert already in the pool"),
    NoDiscipline = ("no_discipline", UNPROCESSABLE_ENTITY, "an expert or a request needs at least one discipline"),
    ExpertNotActive = ("expert_not_active", UNPROCESSABLE_ENTITY, "the expert is not active"),
    ExpertNotSuspended = ("expert_not_suspended", UNPROCESSABLE_ENTITY, "the expert is not suspended"),
    ExpertRemoved = ("expert_removed", UNPROCESSABLE_ENTITY, "the expert was removed from the pool"),
    AppraisalAlreadyExists = ("appraisal_already_exists", CONFLICT, "appraisal campaign already exists"),
    InvalidCampaignDefinition = ("invalid_campaign_definition", UNPROCESSABLE_ENTITY, "the campaign definition is invalid (the detail says why)"),
    WrongCampaignStatus = ("wrong_campaign_status", UNPROCESSABLE_ENTITY, "the campaign is not in the status this command needs"),
    DepartmentNotInCampaign = ("department_not_in_campaign", UNPROCESSABLE_ENTITY, "the department is not appraised in this campaign"),
    UnknownRaterGroup = ("unknown_rater_group", UNPROCESSABLE_ENTITY, "the campaign has no such rater group"),
    NotInRaterGroup = ("not_in_rater_group", FORBIDDEN, "your role may not rate in this rater group"),
    RaterConflict = ("rater_conflict", FORBIDDEN, "the rater is the handler, in the lead department, or rates their own department"),
    BallotAlreadyCast = ("ballot_already_cast", CONFLICT, "you have already rated this department in this campaign"),
    InvalidScores = ("invalid_scores", UNPROCESSABLE_ENTITY, "the ballot's scores are invalid (the detail says why)"),
    KpiSnapshotIncomplete = ("kpi_snapshot_incomplete", UNPROCESSABLE_ENTITY, "the KPI snapshot lacks an appraised department"),
    RectificationAlreadyExists = ("rectification_already_exists", CONFLICT, "rectification item already exists"),
    DueDateInPast = ("due_date_in_past", UNPROCESSABLE_ENTITY, "the due date is in the past"),
    RectificationNotReported = ("rectification_not_reported", UNPROCESSABLE_ENTITY, "the item has not been reported done"),
    RectificationAlreadyVerified = ("rectification_already_verified", UNPROCESSABLE_ENTITY, "the item is verified already"),
    CaseAlreadyExists = ("case_already_exists", CONFLICT, "case already exists"),
    NotOwnEnterprise = ("not_own_enterprise", FORBIDDEN, "an enterprise may register cases only for itself"),
    NotLeadDepartment = ("not_lead_department", FORBIDDEN, "only the lead department may do this this case"),
    DepartmentNotInvolved = ("department_not_involved", FORBIDDEN, "your department neither leads nor assists on this case"),
    CaseAlreadyDispatched = ("case_already_dispatched", UNPROCESSABLE_ENTITY, "case already dispatched"),
    CaseNotDispatched = ("case_not_dispatched", UNPROCESSABLE_ENTITY, "case not dispatched yet"),
    CaseAlreadyAccepted = ("case_already_accepted", UNPROCESSABLE_ENTITY, "case already accepted"),
    CaseNotAccepted = ("case_not_accepted", UNPROCESSABLE_ENTITY, "case not accepted yet"),
    CaseAlreadyResponded = ("case_already_responded", UNPROCESSABLE_ENTITY, "case already responded"),
    NoResponseYet = ("no_response_yet", UNPROCESSABLE_ENTITY, "case has no response yet"),
    NoRatingYet = ("no_rating_yet", UNPROCESSABLE_ENTITY, "case has no rating yet (and too few failed follow-up attempts to close without one)"),
    RatingIsFinal = ("rating_is_final", UNPROCESSABLE_ENTITY, "the rating is final"),
    CaseClosed = ("case_closed", UNPROCESSABLE_ENTITY, "case is closed"),
    CaseEnded = ("case_ended", UNPROCESSABLE_ENTITY, "the case has ended (declined, withdrawn or merged)"),
    BasisRequired = ("basis_required", UNPROCESSABLE_ENTITY, "an explained response needs a legal or policy basis"),
    InvalidCoDepartments = ("invalid_co_departments", UNPROCESSABLE_ENTITY, "co-departments must be distinct and exclude the lead department"),
    SameDepartment = ("same_department", UNPROCESSABLE_ENTITY, "the case is already with that department"),
    ExtensionTooLate = ("extension_too_late", UNPROCESSABLE_ENTITY, "an extension must be requested before the response is due"),
    ExtensionOverCap = ("extension_over_cap", UNPROCESSABLE_ENTITY, "the extension exceeds the policy's cap"),
    ExtensionPending = ("extension_pending", UNPROCESSABLE_ENTITY, "an extension request is already pending"),
    NoExtensionPending = ("no_extension_pending", UNPROCESSABLE_ENTITY, "no extension request is pending"),
    PausePending = ("pause_pending", UNPROCESSABLE_ENTITY, "a pause request is already pending"),
    NoPausePending = ("no_pause_pending", UNPROCESSABLE_ENTITY, "no pause request is pending"),
    ClockPaused = ("clock_paused", UNPROCESSABLE_ENTITY, "the clock is paused; resume it first"),
    ClockNotPaused = ("clock_not_paused", UNPROCESSABLE_ENTITY, "the clock is not paused"),
    AppealExists = ("appeal_exists", UNPROCESSABLE_ENTITY, "the rating has been appealed already"),
    NoAppealPending = ("no_appeal_pending", UNPROCESSABLE_ENTITY, "no appeal is pending"),
    CannotReopen = ("cannot_reopen", UNPROCESSABLE_ENTITY, "only a responded or closed case can be reopened"),
    ExemptionByDecider = ("exemption_by_decider", FORBIDDEN, "the dispatcher who decided the case may not exempt it from scoring"),
    AlreadyExempted = ("already_exempted", UNPROCESSABLE_ENTITY, "the case is exempted from scoring already"),
    MergeIntoSelf = ("merge_into_self", UNPROCESSABLE_ENTITY, "a case cannot be merged into itself"),
    NoCaseNumber = ("no_case_number", UNPROCESSABLE_ENTITY, "the case has no public case number, so it has no verifier to re-issue"),
    NominationAlreadyExists = ("nomination_already_exists", CONFLICT, "nomination already exists"),
    ProgramNotApproved = ("program_not_approved", UNPROCESSABLE_ENTITY, "the reward program is not approved"),
    InvalidStatus = ("invalid_status", UNPROCESSABLE_ENTITY, "the request or nomination is not in a status this command needs"),
    ChecklistEmpty = ("checklist_empty", UNPROCESSABLE_ENTITY, "the eligibility checklist is empty"),
    ChecklistContradiction = ("checklist_contradiction", UNPROCESSABLE_ENTITY, "the eligibility decision contradicts the checklist"),
    InsufficientPool = ("insufficient_pool", UNPROCESSABLE_ENTITY, "the pool holds too few eligible experts or reviewers for the draw"),
    NotSeated = ("not_seated", FORBIDDEN, "you hold no seat on this request or nomination"),
    ReviewerRecused = ("reviewer_recused", FORBIDDEN, "the reviewer is recused from this nomination"),
    ScorerIsRewardOffice = ("scorer_is_reward_office", FORBIDDEN, "reward office staff may not score nominations"),
    AlreadyScored = ("already_scored", CONFLICT, "this reviewer has scored already"),
    UnknownCriterion = ("unknown_criterion", UNPROCESSABLE_ENTITY, "the program has no such criterion"),
    ScoresIncomplete = ("scores_incomplete", UNPROCESSABLE_ENTITY, "every criterion must be scored exactly once"),
    ScoreOutOfRange = ("score_out_of_range", UNPROCESSABLE_ENTITY, "a score is outside its criterion's range"),
    CommentRequired = ("comment_required", UNPROCESSABLE_ENTITY, "a score at the end of the range needs a comment"),
    ScoresMissing = ("scores_missing", UNPROCESSABLE_ENTITY, "not every seated reviewer has scored"),
    TooFewScores = ("too_few_scores", UNPROCESSABLE_ENTITY, "at least three score sheets are needed"),
    AlreadyVoted = ("already_voted", CONFLICT, "this committee member has voted already"),
    VoterIsReviewer = ("voter_is_reviewer", FORBIDDEN, "a reviewer of this nomination may not vote on it"),
    NotCommitteeMember = ("not_committee_member", FORBIDDEN, "only members of the program's committee vote"),
    QuorumNotReached = ("quorum_not_reached", UNPROCESSABLE_ENTITY, "too few opinions or votes for the quorum"),
    NoticeStartNotWorkingDay = ("notice_start_not_working_day", UNPROCESSABLE_ENTITY, "the public notice must start on a working day"),
    NoticeNotOpen = ("notice_not_open", UNPROCESSABLE_ENTITY, "objections are taken only while the public notice runs"),
    NoticePeriodRunning = ("notice_period_running", UNPROCESSABLE_ENTITY, "the public notice period is still running"),
    NoticeNotClosed = ("notice_not_closed", UNPROCESSABLE_ENTITY, "approving a nomination whose notice ended but was not closed"),
    ObjectionNotFound = ("objection_not_found", NOT_FOUND, "no accepted objection with this id"),
    ObjectionAlreadyResolved = ("objection_already_resolved", CONFLICT, "the objection is resolved already"),
    UnresolvedObjection = ("unresolved_objection", UNPROCESSABLE_ENTITY, "an objection is still unresolved"),
    ObjectionUpheld = ("objection_upheld", UNPROCESSABLE_ENTITY, "an objection against this nomination was upheld"),
    QuotaExceeded = ("quota_exceeded", UNPROCESSABLE_ENTITY, "the program's quota of awards is used up"),
    UnknownTier = ("unknown_tier", UNPROCESSABLE_ENTITY, "the program has no such tier"),
    AmountOutsideTier = ("amount_outside_tier", UNPROCESSABLE_ENTITY, "the amount is outside the tier's range"),
    NotOriginalAuthority = ("not_original_authority", FORBIDDEN, "only the approving authority who approved the award may revoke it"),
    ProgramAlreadyExists = ("program_already_exists", CONFLICT, "reward program already exists"),
    NoticePeriodTooShort = ("notice_period_too_short", UNPROCESSABLE_ENTITY, "the public notice is shorter than the minimum of working days"),
    InvalidProgramTerms = ("invalid_program_terms", UNPROCESSABLE_ENTITY, "the program terms are invalid (the detail says why)"),
    ProgramAlreadyApproved = ("program_already_approved", CONFLICT, "the program is approved already"),
    ConsultationAlreadyExists = ("consultation_already_exists", CONFLICT, "consultation already exists"),
    NotRequestingDepartment = ("not_requesting_department", FORBIDDEN, "only the requesting department may do this"),
    ApproverIsProposer = ("approver_is_proposer", FORBIDDEN, "a manual selection must be approved by someone other than its proposer"),
    PanelSizeOutOfRange = ("panel_size_out_of_range", UNPROCESSABLE_ENTITY, "a panel has 3 to 15 seats"),
    TooManyAlternates = ("too_many_alternates", UNPROCESSABLE_ENTITY, "at most 10 alternates"),
    NoQuestions = ("no_questions", UNPROCESSABLE_ENTITY, "a request needs at least one question"),
    DeadlineNotInFuture = ("deadline_not_in_future", UNPROCESSABLE_ENTITY, "the deadline must be after today"),
    DuplicatePoolEntry = ("duplicate_pool_entry", UNPROCESSABLE_ENTITY, "the pool snapshot names an expert twice"),
    BadSeed = ("bad_seed", UNPROCESSABLE_ENTITY, "the draw seed is not 32 bytes of hex"),
    SelectionSizeMismatch = ("selection_size_mismatch", UNPROCESSABLE_ENTITY, "the selection must fill exactly the panel size"),
    DuplicateExpert = ("duplicate_expert", UNPROCESSABLE_ENTITY, "an expert is named twice"),
    ExpertNotInPool = ("expert_not_in_pool", UNPROCESSABLE_ENTITY, "the expert is not in the pool"),
    ExpertConflicted = ("expert_conflicted", UNPROCESSABLE_ENTITY, "the expert has a conflict of interest on this request"),
    SubordinateCapExceeded = ("subordinate_cap_exceeded", UNPROCESSABLE_ENTITY, "experts from units subordinate to the requester would hold more than half the panel"),
    NoSelectionPending = ("no_selection_pending", UNPROCESSABLE_ENTITY, "no manual selection is pending"),
    SelectionPending = ("selection_pending", UNPROCESSABLE_ENTITY, "a manual selection is pending approval"),
    SeatNotOpen = ("seat_not_open", UNPROCESSABLE_ENTITY, "the seat is not waiting for your answer"),
    PledgeRequired = ("pledge_required", UNPROCESSABLE_ENTITY, "the confidentiality pledge is not accepted: 422 accepting a seat without it; 403 (the one exception) reading a request's materials before it"),
    SeatNotAccepted = ("seat_not_accepted", UNPROCESSABLE_ENTITY, "accept the seat and the pledge first"),
    PanelNotConfirmed = ("panel_not_confirmed", UNPROCESSABLE_ENTITY, "the panel is not confirmed yet"),
    ConditionsRequired = ("conditions_required", UNPROCESSABLE_ENTITY, "a conditional opinion states its conditions"),
    NoMajority = ("no_majority", UNPROCESSABLE_ENTITY, "the opinions are tied: no majority"),
    DissentRequired = ("dissent_required", UNPROCESSABLE_ENTITY, "some experts dissent: summarise the dissent"),
    NoDissent = ("no_dissent", UNPROCESSABLE_ENTITY, "no expert dissents"),
    NoRecommendations = ("no_recommendations", UNPROCESSABLE_ENTITY, "a conclusion makes at least one recommendation"),
    AdoptionIncomplete = ("adoption_incomplete", UNPROCESSABLE_ENTITY, "the adoption report must cover each recommendation exactly once"),
    AdoptionReasonRequired = ("adoption_reason_required", UNPROCESSABLE_ENTITY, "a recommendation not adopted needs a reason"),
    AdoptionNotReported = ("adoption_not_reported", UNPROCESSABLE_ENTITY, "the adoption report is missing"),
}

impl ErrorCode {
    /// The registered code spelled `code`, if there is one.
    pub fn from_code(code: &str) -> Option<ErrorCode> {
        ErrorCode::ALL
            .iter()
            .copied()
            .find(|entry| entry.code() == code)
    }
}

/// The marker lines around the generated table in the README.
pub const README_START: &str = "<!-- error-codes:start -->";
/// See [`README_START`].
pub const README_END: &str = "<!-- error-codes:end -->";

/// The README's error-code table: one row per code, by status, then code.
pub fn readme_table() -> String {
    let mut entries = ErrorCode::ALL.to_vec();
    entries.sort_by_key(|entry| (entry.status().as_u16(), entry.code()));
    let mut table = String::from("| status | code | meaning |\n|---|---|---|\n");
    for entry in entries {
        table.push_str(&format!(
            "| {} | `{}` | {} |\n",
            entry.status().as_u16(),
            entry.code(),
            entry.meaning().replace('|', "\\|")
        ));
    }
    table
}

impl utoipa::PartialSchema for ErrorCode {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .enum_values(Some(ErrorCode::ALL.iter().map(|entry| entry.code())))
            .description(Some(
                "The stable machine-readable code of an error answer; the README lists each \
                 code with its status and meaning.",
            ))
            .into()
    }
}

impl utoipa::ToSchema for ErrorCode {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::refusal_status;
    use caseledger_domain::case::{CaseError, RefusalKind};
    use std::collections::{BTreeMap, BTreeSet};
    use std::path::{Path, PathBuf};

    #[test]
    fn every_code_is_registered_once_in_snake_case_with_a_meaning() {
        let mut seen = BTreeSet::new();
        for entry in ErrorCode::ALL {
            let code = entry.code();
            assert!(seen.insert(code), "{code} is registered twice");
            assert!(
                !code.is_empty()
                    && code
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
                "{code} is not snake_case"
            );
            assert!(
                entry.status().is_client_error() || entry.status().is_server_error(),
                "{code}: {} is not an error status",
                entry.status()
            );
            assert!(!entry.meaning().trim().is_empty(), "{code} has no meaning");
            assert_eq!(ErrorCode::from_code(code), Some(*entry));
        }
        assert_eq!(ErrorCode::from_code("no_such_code"), None);
    }

    /// The tokens of Rust source that matter to a `match self { … }` of a refusal's `code()` or
    /// `kind()`: paths, string literals, `=>`, and single punctuation characters.
    fn tokens(source: &str) -> Vec<String> {
        let chars: Vec<char> = source.chars().collect();
        let mut tokens = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            if c.is_whitespace() {
                i += 1;
            } else if c == '/' && chars.get(i + 1) == Some(&'/') {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            } else if c == '"' {
                let start = i;
                i += 1;
                while i < chars.len() && chars[i] != '"' {
                    i += if chars[i] == '\\' { 2 } else { 1 };
                }
                i += 1;
                tokens.push(chars[start..i.min(chars.len())].iter().collect());
            } else if c.is_alphanumeric() || c == '_' {
                let start = i;
                while i < chars.len()
                    && (chars[i].is_alphanumeric()
                        || chars[i] == '_'
                        || (chars[i] == ':' && chars.get(i + 1) == Some(&':')))
                {
                    i += if chars[i] == ':' { 2 } else { 1 };
                }
                tokens.push(chars[start..i].iter().collect());
            } else if c == '=' && chars.get(i + 1) == Some(&'>') {
                tokens.push("=>".into());
                i += 2;
            } else {
                tokens.push(c.to_string());
                i += 1;
            }
        }
        tokens
    }

    /// The text inside the braces that open at or after `from`.
    fn braced(source: &str, from: usize) -> &str {
        let open = from + source[from..].find('{').unwrap();
        let mut depth = 0;
        for (offset, c) in source[open..].char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        return &source[open + 1..open + offset];
                    }
                }
                _ => {}
            }
        }
        panic!("unbalanced braces")
    }

    /// The arms of `fn <name>(&self)`'s `match self` in an impl block: the variants each arm
    /// names (`_` for the catch-all) and the arm's value (a string literal or a path).
    fn match_arms(block: &str, error: &str, name: &str) -> Vec<(Vec<String>, String)> {
        let Some(start) = block.find(&format!("fn {name}(&self)")) else {
            return Vec::new();
        };
        let body = braced(block, start);
        let alias = body
            .find(&format!("use {error} as "))
            .map(|at| {
                body[at + format!("use {error} as ").len()..]
                    .split(';')
                    .next()
                    .unwrap()
            })
            .map(str::trim);
        let body = &body[body.find("match self").unwrap() + "match self".len()..];
        let tokens = tokens(body);
        let mut arms = Vec::new();
        let mut variants = Vec::new();
        let mut i = 0;
        while i < tokens.len() {
            let token = &tokens[i];
            if token == "=>" {
                let mut j = i + 1;
                while tokens[j] == "{" {
                    j += 1;
                }
                arms.push((std::mem::take(&mut variants), tokens[j].clone()));
                i = j + 1;
                continue;
            }
            if let Some((owner, variant)) = token.split_once("::") {
                if owner == error || Some(owner) == alias {
                    variants.push(variant.to_owned());
                }
            } else if token == "_"
                && variants.is_empty()
                && tokens.get(i + 1).map(String::as_str) == Some("=>")
            {
                variants.push("_".to_owned());
            }
            i += 1;
        }
        arms
    }

    fn rust_files(dir: &Path, files: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                rust_files(&path, files);
            } else if path.extension().is_some_and(|extension| extension == "rs") {
                files.push(path);
            }
        }
    }

    /// Every refusal code the domain's sources spell in a `code()` method, with the kind its
    /// `kind()` method gives the same variant: `code -> {(error type, kind)}`.
    fn domain_codes() -> BTreeMap<String, BTreeSet<(String, String)>> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../caseledger-domain/src");
        let mut files = Vec::new();
        rust_files(&root, &mut files);
        let mut codes: BTreeMap<String, BTreeSet<(String, String)>> = BTreeMap::new();
        for file in files {
            let source = std::fs::read_to_string(&file).unwrap();
            let mut at = 0;
            while let Some(found) = source[at..].find("impl ") {
                let start = at + found;
                at = start + 5;
                let header: String = source[start + 5..]
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !header.ends_with("Error")
                    || !source[start + 5 + header.len()..]
                        .trim_start()
                        .starts_with('{')
                {
                    continue;
                }
                let block = braced(&source, start);
                let code_arms = match_arms(block, &header, "code");
                if code_arms.is_empty() {
                    continue;
                }
                let mut kinds = BTreeMap::new();
                for (variants, kind) in match_arms(block, &header, "kind") {
                    for variant in variants {
                        kinds.insert(variant, kind.clone());
                    }
                }
                for (variants, code) in code_arms {
                    assert!(code.starts_with('"'), "{header}: code() arm gives {code}");
                    for variant in variants {
                        let kind = kinds
                            .get(&variant)
                            .or_else(|| kinds.get("_"))
                            .unwrap_or_else(|| panic!("{header}::{variant} has no kind"));
                        codes
                            .entry(code.trim_matches('"').to_owned())
                            .or_default()
                            .insert((header.clone(), kind.clone()));
                    }
                }
            }
        }
        codes
    }

    fn kind_named(kind: &str) -> RefusalKind {
        match kind.rsplit("::").next().unwrap() {
            "NotFound" => RefusalKind::NotFound,
            "Forbidden" => RefusalKind::Forbidden,
            "Conflict" => RefusalKind::Conflict,
            "Rule" => RefusalKind::Rule,
            other => panic!("unknown refusal kind {other}"),
        }
    }

    #[test]
    fn every_domain_refusal_code_is_registered_with_the_status_of_its_kind() {
        let codes = domain_codes();
        // The scan finds every aggregate's refusals, so it cannot pass by finding nothing.
        let errors: BTreeSet<&str> = codes
            .values()
            .flatten()
            .map(|(error, _)| error.as_str())
            .collect();
        for error in [
            "CaseError",
            "SubjectError",
            "PortfolioError",
            "AppraisalError",
            "ExpertError",
            "ConsultationError",
            "ProgramError",
            "NominationError",
        ] {
            assert!(
                errors.contains(error),
                "no codes of {error} found: {errors:?}"
            );
        }
        assert!(codes.len() > 100, "only {} domain codes found", codes.len());
        // The scan reads what the domain's methods answer.
        for error in [
            CaseError::CaseNotFound,
            CaseError::RaterConflict,
            CaseError::NoResponseYet,
        ] {
            assert!(
                codes[error.code()]
                    .iter()
                    .any(|(name, kind)| name == "CaseError" && kind_named(kind) == error.kind()),
                "{error:?}: {:?}",
                codes[error.code()]
            );
        }
        let mut wrong = Vec::new();
        for (code, sources) in &codes {
            for (error, kind) in sources {
                let status = refusal_status(kind_named(kind));
                match ErrorCode::from_code(code) {
                    None => wrong.push(format!("{code} ({error}, {kind}) is not registered")),
                    Some(entry) if entry.status() != status => wrong.push(format!(
                        "{code} ({error}, {kind}) answers {status}, the registry says {}",
                        entry.status()
                    )),
                    Some(_) => {}
                }
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }

    /// `ApiError::new` only takes a registered code; the two ways around it are confined: the
    /// domain's refusal codes (checked above) and the documented status exceptions.
    #[test]
    fn codes_bypass_the_registry_only_where_documented() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = Vec::new();
        rust_files(&root, &mut files);
        let mut found = Vec::new();
        for file in files {
            let name = file.file_name().unwrap().to_string_lossy().into_owned();
            if name == "codes.rs" {
                continue;
            }
            let source = std::fs::read_to_string(&file).unwrap();
            for needle in ["ApiError::refusal(", ".with_status("] {
                found.extend(source.matches(needle).map(|_| format!("{name}: {needle}")));
            }
        }
        found.sort();
        assert_eq!(
            found,
            [
                "commands.rs: ApiError::refusal(",
                "consultations.rs: .with_status(",
                "lib.rs: .with_status(",
            ]
        );
    }

    #[test]
    fn readme_error_table_is_generated_from_the_registry() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md");
        let readme = std::fs::read_to_string(&path).unwrap();
        let start = readme
            .find(README_START)
            .unwrap_or_else(|| panic!("README.md has no {README_START} marker"))
            + README_START.len();
        let end = readme
            .find(README_END)
            .unwrap_or_else(|| panic!("README.md has no {README_END} marker"));
        let expected = format!("\n{}", readme_table());
        if readme[start..end] == expected {
            return;
        }
        if std::env::var_os("UPDATE_README").is_some() {
            let updated = format!("{}{expected}{}", &readme[..start], &readme[end..]);
            std::fs::write(&path, updated).unwrap();
            return;
        }
        panic!(
            "README.md's error-code table differs from the registry (crates/caseledger-api/src/codes.rs); \
             regenerate it with `UPDATE_README=1 cargo test -p caseledger-api --lib codes`. \
             Expected between the markers:\n{expected}"
        );
    }

    #[test]
    fn problem_code_is_the_registry_enum_in_the_openapi_document() {
        let document = serde_json::to_value(crate::openapi::document()).unwrap();
        let schemas = &document["components"]["schemas"];
        assert_eq!(
            schemas["Problem"]["properties"]["code"]["$ref"],
            "#/components/schemas/ErrorCode"
        );
        let listed: Vec<&str> = schemas["ErrorCode"]["enum"]
            .as_array()
            .unwrap()
            .iter()
            .map(|code| code.as_str().unwrap())
            .collect();
        let registered: Vec<&str> = ErrorCode::ALL.iter().map(|entry| entry.code()).collect();
        assert_eq!(listed, registered);
    }
}
