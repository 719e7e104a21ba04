//! The closed sets' wire names come from strum (`as_str`, parsing, `VariantNames`, which the
//! OpenAPI enums are built from) and from serde (stored events, request and answer bodies): the
//! two must name every variant alike, or the contract would list names the server refuses.

use caseledger_domain::appraisal::{CampaignStatus, Grade, RectificationStatus};
use caseledger_domain::case::{
    CaseSource, CaseStatus, ContactChannel, DeadlineKind, DeclineReason, ExemptionReason,
    Resolution, Threshold, Urgency,
};
use caseledger_domain::consultation::{
    AdoptionOutcome, Confidentiality, ConsultationStatus, SeatState, SeatedVia, SelectionMethod,
    Stance, TopicType,
};
use caseledger_domain::expert::ExpertStatus;
use caseledger_domain::portfolio::{PortfolioOwner, VisitObligation};
use caseledger_domain::reward::nomination::{NominationStatus, NomineeKind};
use caseledger_domain::subject::SubjectKind;
use caseledger_domain::{DepartmentId, LeaderId, Role};
use strum::{VariantArray, VariantNames};

/// `(serde name, strum name)` of every variant, and strum's list of names.
fn names<T>() -> (Vec<(String, &'static str)>, Vec<&'static str>)
where
    T: VariantArray + VariantNames + serde::Serialize + Copy,
    &'static str: From<T>,
{
    let pairs = <T as VariantArray>::VARIANTS
        .iter()
        .map(|variant| {
            let serde = serde_json::to_value(variant).unwrap();
            (
                serde.as_str().unwrap().to_owned(),
                <&'static str>::from(*variant),
            )
        })
        .collect();
    (pairs, <T as VariantNames>::VARIANTS.to_vec())
}

macro_rules! same_names {
    ($($type:ty),* $(,)?) => {$({
        let (pairs, listed) = names::<$type>();
        for (serde, strum) in &pairs {
            assert_eq!(serde, strum, "{}: serde and strum name a variant differently", stringify!($type));
            assert_eq!(
                strum.parse::<$type>().ok().map(<&'static str>::from),
                Some(*strum),
                "{}: {strum} does not parse back", stringify!($type)
            );
        }
        let strum: Vec<&str> = pairs.iter().map(|(_, strum)| *strum).collect();
        assert_eq!(strum, listed, "{}: VariantNames", stringify!($type));
    })*};
}

#[test]
fn serde_and_strum_name_every_variant_alike() {
    same_names!(
        Urgency,
        CaseSource,
        Resolution,
        CaseStatus,
        DeclineReason,
        ContactChannel,
        ExemptionReason,
        DeadlineKind,
        Threshold,
        SubjectKind,
        VisitObligation,
        ExpertStatus,
        TopicType,
        Confidentiality,
        Stance,
        AdoptionOutcome,
        ConsultationStatus,
        SeatState,
        SeatedVia,
        SelectionMethod,
        NomineeKind,
        NominationStatus,
        CampaignStatus,
        RectificationStatus,
        Grade,
    );
    // Role parses through its own `FromStr` (its error names the unknown role).
    let (pairs, listed) = names::<Role>();
    for (serde, strum) in &pairs {
        assert_eq!(serde, strum);
        assert_eq!(strum.parse::<Role>().unwrap().as_str(), *strum);
    }
    assert_eq!(pairs.len(), listed.len());
    assert_eq!(Role::ALL.len(), listed.len(), "Role::ALL misses a role");
}

#[test]
fn a_portfolio_owner_kind_is_its_serde_tag() {
    let owners = [
        PortfolioOwner::Leader {
            user_id: LeaderId::parse("leader-wang").unwrap(),
        },
        PortfolioOwner::Department {
            department_id: DepartmentId::parse("dept-commerce").unwrap(),
        },
    ];
    let kinds: Vec<&str> = owners.iter().map(PortfolioOwner::kind).collect();
    assert_eq!(kinds, <PortfolioOwner as VariantNames>::VARIANTS);
    for owner in &owners {
        assert_eq!(serde_json::to_value(owner).unwrap()["kind"], owner.kind());
    }
}
