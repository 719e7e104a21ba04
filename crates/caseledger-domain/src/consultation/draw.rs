//! The panel draw: a pure, exactly specified function from a recorded seed, a pool snapshot, the
//! filters, the panel size and the number of alternates to a seated panel, an ordered list of
//! alternates and a proof. Anyone holding the `PanelDrawn` event can re-run it (this module, the
//! `draw/verify` endpoint, `caseledger consultations verify-draw`, or an independent
//! implementation of the steps below) and must get the same panel and the same proof.
//!
//! # Algorithm `caseledger-draw-v1`
//!
//! All hashes are SHA-256; "hex" is lowercase hexadecimal; "canonical JSON" is UTF-8 JSON without
//! white space, object keys in lexicographic (byte) order, sets as arrays sorted ascending
//! without duplicates, integers in decimal. (serde_json produces exactly this for the structs
//! here: their fields are declared in key order and every set is a `BTreeSet`.)
//!
//! 1. **Pool snapshot.** One entry per active expert: `{"conflicts": [unit…], "disciplines":
//!    [discipline…], "employer_unit": unit, "expert_id": id, "subordinate_to": [unit…],
//!    "version": n}` where `version` is the number of events in the expert's stream when the
//!    snapshot was taken. The snapshot is the array of entries sorted by `expert_id`; an
//!    expert id may appear once. **Pool hash** = hex(SHA-256(canonical JSON of the snapshot))).
//! 2. **Filters**: `{"disciplines": [...], "excluded": [expert id…], "parties": [unit…],
//!    "requesting_unit": unit}`. An entry is **eligible** when it shares at least one
//!    discipline with the filter, its `expert_id` is not in `excluded`, and it is not
//!    **conflicted**: none of its `conflicts` is the requesting unit or one of the parties, and
//!    its `employer_unit` is not one of the parties.
//! 3. **Order.** For each eligible entry, key = SHA-256(seed ‖ UTF-8 bytes of `expert_id`),
//!    where the seed is its 32 raw bytes (the events store it as 64 hex characters). Eligible
//!    entries are sorted by key ascending (bytewise); equal keys (never seen in practice) fall
//!    back to `expert_id` ascending. This is the **order**.
//! 4. **Seats.** An entry is **subordinate** when its `employer_unit` is the requesting unit or
//!    the requesting unit is in its `subordinate_to`. cap = floor(panel size / 2). Walk the
//!    order; while fewer than panel-size experts are seated, seat the entry unless it is
//!    subordinate and `cap` subordinate experts are seated already (then pass over it). If the
//!    walk ends with fewer than panel-size seated, the draw fails (`insufficient_pool`).
//! 5. **Alternates.** The first `alternates` entries of the order that were not seated, in
//!    order (passed-over subordinate experts included: when one replaces a seat later, the cap
//!    is checked again). Fewer are taken when the order runs out.
//! 6. **Proof** = hex(SHA-256(canonical JSON of `{"algorithm": "caseledger-draw-v1",
//!    "alternates": [id…], "alternates_requested": n, "filters": {…}, "order": [id…], "panel":
//!    [id…], "panel_size": n, "pool_hash": hex, "seed": hex}`)). Any change to an input or to
//!    the result changes the proof.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::ids::{Discipline, ExpertId, UnitId};

/// The name of this algorithm, recorded in every draw.
pub const ALGORITHM: &str = "caseledger-draw-v1";

/// One active expert as the draw sees them. Field order is key order (canonical JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolEntry {
    /// Units the expert declared a conflict with.
    pub conflicts: BTreeSet<UnitId>,
    /// The expert's disciplines.
    pub disciplines: BTreeSet<Discipline>,
    /// The unit the expert works for.
    pub employer_unit: UnitId,
    /// The expert.
    pub expert_id: ExpertId,
    /// Requesting units the employer unit is subordinate to.
    pub subordinate_to: BTreeSet<UnitId>,
    /// The expert stream's version the entry was read at.
    pub version: u64,
}

impl PoolEntry {
    /// Whether the expert is conflicted for a request by `requesting_unit` involving `parties`.
    pub fn conflicted(&self, requesting_unit: &UnitId, parties: &BTreeSet<UnitId>) -> bool {
        self.conflicts.contains(requesting_unit)
            || self.conflicts.iter().any(|unit| parties.contains(unit))
            || parties.contains(&self.employer_unit)
    }

    /// Whether the expert's employer is the requesting unit or subordinate to it.
    pub fn subordinate_to_requester(&self, requesting_unit: &UnitId) -> bool {
        &self.employer_unit == requesting_unit || self.subordinate_to.contains(requesting_unit)
    }
}

/// The 32-byte random seed of a draw, chosen by the application with a CSPRNG and recorded. It
/// travels as 64 lowercase hex characters.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct DrawSeed([u8; 32]);

impl DrawSeed {
    /// Wraps 32 bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// Parses 64 hex characters.
    pub fn parse(text: &str) -> Result<Self, DrawError> {
        let mut bytes = [0_u8; 32];
        hex::decode_to_slice(text, &mut bytes).map_err(|_| DrawError::BadSeed)?;
        Ok(Self(bytes))
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The hex form.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Debug for DrawSeed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DrawSeed({})", self.to_hex())
    }
}

impl Serialize for DrawSeed {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for DrawSeed {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        DrawSeed::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// Who may be drawn. Field order is key order (canonical JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DrawFilters {
    /// At least one of these disciplines.
    pub disciplines: BTreeSet<Discipline>,
    /// Experts never drawn for this request.
    #[serde(default)]
    pub excluded: BTreeSet<ExpertId>,
    /// Units involved in the matter (applicant, investor, contractor).
    #[serde(default)]
    pub parties: BTreeSet<UnitId>,
    /// The requesting department.
    pub requesting_unit: UnitId,
}

/// An expert chosen for a seat or as an alternate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Candidate {
    /// The expert.
    pub expert_id: ExpertId,
    /// Whether the expert's employer is the requester or subordinate to it.
    pub subordinate: bool,
}

/// The result of a draw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DrawOutcome {
    /// SHA-256 of the canonical snapshot, hex.
    pub pool_hash: String,
    /// Every eligible expert, in draw order.
    pub order: Vec<ExpertId>,
    /// The seated experts, in draw order.
    pub panel: Vec<Candidate>,
    /// The alternates, in the order they replace seats.
    pub alternates: Vec<Candidate>,
    /// SHA-256 over inputs and result, hex.
    pub proof: String,
}

/// Why a draw could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DrawError {
    /// The seed is not 64 hex characters.
    #[error("the seed must be 64 hex characters")]
    BadSeed,
    /// An expert appears twice in the snapshot.
    #[error("expert {0} appears twice in the pool snapshot")]
    DuplicateExpert(ExpertId),
    /// Not enough eligible experts to seat the panel within the subordinate-unit cap.
    #[error(
        "only {seatable} of the {needed} seats can be filled from {eligible} eligible experts"
    )]
    InsufficientPool {
        /// Eligible experts.
        eligible: usize,
        /// Seats that could be filled.
        seatable: usize,
        /// The panel size.
        needed: usize,
    },
}

/// The snapshot in canonical order (sorted by expert id), refusing duplicates.
pub fn canonical_pool(pool: &[PoolEntry]) -> Result<Vec<PoolEntry>, DrawError> {
    let mut sorted = pool.to_vec();
    sorted.sort_by(|a, b| a.expert_id.cmp(&b.expert_id));
    for pair in sorted.windows(2) {
        if pair[0].expert_id == pair[1].expert_id {
            return Err(DrawError::DuplicateExpert(pair[0].expert_id.clone()));
        }
    }
    Ok(sorted)
}

/// hex(SHA-256(canonical JSON)) of a value whose serialisation is canonical.
fn canonical_hash(value: &impl Serialize) -> String {
    let bytes = serde_json::to_vec(value).expect("draw values always serialise");
    hex::encode(Sha256::digest(bytes))
}

/// The pool hash of a snapshot (step 1): the snapshot is put in canonical order first.
pub fn pool_hash(pool: &[PoolEntry]) -> Result<String, DrawError> {
    Ok(canonical_hash(&canonical_pool(pool)?))
}

/// The draw key of an expert under `seed` (step 3).
pub fn draw_key(seed: &DrawSeed, expert_id: &ExpertId) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(seed.as_bytes());
    hasher.update(expert_id.as_str().as_bytes());
    hasher.finalize().into()
}

/// The inputs and result the proof covers (step 6). Field order is key order.
#[derive(Serialize)]
struct ProofInput<'a> {
    algorithm: &'static str,
    alternates: Vec<&'a ExpertId>,
    alternates_requested: u32,
    filters: &'a DrawFilters,
    order: &'a [ExpertId],
    panel: Vec<&'a ExpertId>,
    panel_size: u32,
    pool_hash: &'a str,
    seed: String,
}

/// Runs the draw (steps 1 to 6 of the module documentation).
pub fn draw(
    seed: &DrawSeed,
    pool: &[PoolEntry],
    filters: &DrawFilters,
    panel_size: u32,
    alternates: u32,
) -> Result<DrawOutcome, DrawError> {
    let pool = canonical_pool(pool)?;
    let pool_hash = canonical_hash(&pool);
    let mut eligible: Vec<([u8; 32], &PoolEntry)> = pool
        .iter()
        .filter(|entry| {
            !entry.disciplines.is_disjoint(&filters.disciplines)
                && !filters.excluded.contains(&entry.expert_id)
                && !entry.conflicted(&filters.requesting_unit, &filters.parties)
        })
        .map(|entry| (draw_key(seed, &entry.expert_id), entry))
        .collect();
    eligible.sort_by(|(key_a, a), (key_b, b)| {
        key_a.cmp(key_b).then_with(|| a.expert_id.cmp(&b.expert_id))
    });
    let needed = panel_size as usize;
    let cap = needed / 2;
    let mut panel: Vec<Candidate> = Vec::with_capacity(needed);
    let mut subordinates = 0;
    for (_, entry) in &eligible {
        if panel.len() == needed {
            break;
        }
        let subordinate = entry.subordinate_to_requester(&filters.requesting_unit);
        if subordinate {
            if subordinates == cap {
                continue;
            }
            subordinates += 1;
        }
        panel.push(Candidate {
            expert_id: entry.expert_id.clone(),
            subordinate,
        });
    }
    if panel.len() < needed {
        return Err(DrawError::InsufficientPool {
            eligible: eligible.len(),
            seatable: panel.len(),
            needed,
        });
    }
    let seated: BTreeSet<&ExpertId> = panel.iter().map(|seat| &seat.expert_id).collect();
    let alternate_list: Vec<Candidate> = eligible
        .iter()
        .filter(|(_, entry)| !seated.contains(&entry.expert_id))
        .take(alternates as usize)
        .map(|(_, entry)| Candidate {
            expert_id: entry.expert_id.clone(),
            subordinate: entry.subordinate_to_requester(&filters.requesting_unit),
        })
        .collect();
    let order: Vec<ExpertId> = eligible
        .iter()
        .map(|(_, entry)| entry.expert_id.clone())
        .collect();
    let proof = canonical_hash(&ProofInput {
        algorithm: ALGORITHM,
        alternates: alternate_list.iter().map(|c| &c.expert_id).collect(),
        alternates_requested: alternates,
        filters,
        order: &order,
        panel: panel.iter().map(|c| &c.expert_id).collect(),
        panel_size,
        pool_hash: &pool_hash,
        seed: seed.to_hex(),
    });
    Ok(DrawOutcome {
        pool_hash,
        order,
        panel,
        alternates: alternate_list,
        proof,
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn unit(text: &str) -> UnitId {
        UnitId::parse(text).unwrap()
    }

    fn entry(id: &str, employer: &str, disciplines: &[&str]) -> PoolEntry {
        PoolEntry {
            conflicts: BTreeSet::new(),
            disciplines: disciplines
                .iter()
                .map(|d| Discipline::parse(*d).unwrap())
                .collect(),
            employer_unit: unit(employer),
            expert_id: ExpertId::parse(id).unwrap(),
            subordinate_to: BTreeSet::new(),
            version: 1,
        }
    }

    fn filters() -> DrawFilters {
        DrawFilters {
            disciplines: [Discipline::parse("finance").unwrap()].into(),
            excluded: BTreeSet::new(),
            parties: BTreeSet::new(),
            requesting_unit: unit("dept-commerce"),
        }
    }

    #[test]
    fn the_pool_hash_is_sha256_of_the_canonical_snapshot() {
        let pool = vec![
            entry("b", "univ-x", &["finance"]),
            entry("a", "univ-y", &["law"]),
        ];
        let json = serde_json::to_string(&canonical_pool(&pool).unwrap()).unwrap();
        assert_eq!(
            json,
            "[{\"conflicts\":[],\"disciplines\":[\"law\"],\"employer_unit\":\"univ-y\",\"expert_id\":\"a\",\"subordinate_to\":[],\"version\":1},\
              {\"conflicts\":[],\"disciplines\":[\"finance\"],\"employer_unit\":\"univ-x\",\"expert_id\":\"b\",\"subordinate_to\":[],\"version\":1}]"
                .replace("              ", "")
        );
        assert_eq!(
            pool_hash(&pool).unwrap(),
            hex::encode(Sha256::digest(json.as_bytes()))
        );
    }

    /// The draw is a stored contract: its output for a fixed input must never change. These
    /// values come from scripts/verify-draw.py, an independent Python implementation written
    /// from the module documentation alone.
    #[test]
    fn the_draw_matches_the_independent_python_implementation() {
        let with = |mut entry: PoolEntry, subordinate_to: &[&str], conflicts: &[&str]| {
            entry.subordinate_to = subordinate_to.iter().map(|u| unit(u)).collect();
            entry.conflicts = conflicts.iter().map(|u| unit(u)).collect();
            entry
        };
        let pool = vec![
            entry("expert-a", "univ-a", &["finance"]),
            entry("expert-b", "dept-commerce", &["finance"]),
            with(
                entry("expert-c", "soe-invest", &["finance", "law"]),
                &["dept-commerce"],
                &[],
            ),
            entry("expert-d", "univ-b", &["planning"]),
            with(
                entry("expert-e", "firm-x", &["finance"]),
                &[],
                &["dept-commerce"],
            ),
            entry("expert-f", "univ-b", &["law"]),
            entry("expert-g", "univ-a", &["finance", "planning"]),
            entry("expert-h", "dept-commerce", &["law"]),
        ];
        let filters = DrawFilters {
            disciplines: ["finance", "law"]
                .iter()
                .map(|d| Discipline::parse(*d).unwrap())
                .collect(),
            excluded: BTreeSet::new(),
            parties: [unit("firm-y")].into(),
            requesting_unit: unit("dept-commerce"),
        };
        let seed: [u8; 32] = std::array::from_fn(|i| i as u8);
        let outcome = draw(&DrawSeed::from_bytes(seed), &pool, &filters, 3, 2).unwrap();
        let ids = |candidates: &[Candidate]| {
            candidates
                .iter()
                .map(|c| c.expert_id.as_str().to_owned())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            outcome.pool_hash,
            "c9e428e1c2a04551423c055312d1c903b3372859f677ea8aaf40df45bf789264"
        );
        assert_eq!(ids(&outcome.panel), ["expert-g", "expert-b", "expert-f"]);
        assert_eq!(ids(&outcome.alternates), ["expert-h", "expert-c"]);
        assert_eq!(
            outcome.proof,
            "96a888bd15fd682d8451f3847c091d228a174a288d9444b0c889dd68f750a21f"
        );
    }

    #[test]
    fn a_seed_must_be_32_bytes_of_hex() {
        assert!(DrawSeed::parse(&"ab".repeat(32)).is_ok());
        assert_eq!(DrawSeed::parse("abc"), Err(DrawError::BadSeed));
        assert_eq!(DrawSeed::parse(&"zz".repeat(32)), Err(DrawError::BadSeed));
    }

    #[test]
    fn a_duplicate_expert_in_the_snapshot_is_refused() {
        let pool = vec![entry("a", "u", &["finance"]), entry("a", "v", &["finance"])];
        assert!(matches!(
            draw(&DrawSeed::from_bytes([1; 32]), &pool, &filters(), 1, 0),
            Err(DrawError::DuplicateExpert(_))
        ));
    }

    #[test]
    fn too_few_eligible_experts_is_insufficient_pool() {
        let pool = vec![
            entry("a", "u", &["finance"]),
            entry("b", "u", &["finance"]),
            entry("c", "u", &["law"]),
        ];
        assert_eq!(
            draw(&DrawSeed::from_bytes([1; 32]), &pool, &filters(), 3, 0),
            Err(DrawError::InsufficientPool {
                eligible: 2,
                seatable: 2,
                needed: 3
            })
        );
    }

    // -----------------------------------------------------------------------------------------
    // Properties over random pools

    fn units() -> impl Strategy<Value = UnitId> {
        prop::sample::select(vec![
            "dept-commerce",
            "dept-tax",
            "univ-a",
            "univ-b",
            "soe-invest",
            "firm-x",
        ])
        .prop_map(unit)
    }

    fn pool_strategy() -> impl Strategy<Value = Vec<PoolEntry>> {
        prop::collection::btree_map(
            "[a-z][a-z0-9-]{0,10}",
            (
                prop::collection::btree_set(units(), 0..2),
                prop::collection::btree_set(
                    prop::sample::select(vec!["finance", "law", "planning"]),
                    1..3,
                ),
                units(),
                prop::collection::btree_set(units(), 0..2),
                1_u64..5,
            ),
            0..30,
        )
        .prop_map(|experts| {
            experts
                .into_iter()
                .map(
                    |(id, (conflicts, disciplines, employer, subordinate_to, version))| PoolEntry {
                        conflicts,
                        disciplines: disciplines
                            .into_iter()
                            .map(|d| Discipline::parse(d).unwrap())
                            .collect(),
                        employer_unit: employer,
                        expert_id: ExpertId::parse(id).unwrap(),
                        subordinate_to,
                        version,
                    },
                )
                .collect()
        })
    }

    fn filters_strategy() -> impl Strategy<Value = DrawFilters> {
        (
            prop::collection::btree_set(
                prop::sample::select(vec!["finance", "law", "planning"]),
                1..3,
            ),
            prop::collection::btree_set(units(), 0..2),
            units(),
        )
            .prop_map(|(disciplines, parties, requesting_unit)| DrawFilters {
                disciplines: disciplines
                    .into_iter()
                    .map(|d| Discipline::parse(d).unwrap())
                    .collect(),
                excluded: BTreeSet::new(),
                parties,
                requesting_unit,
            })
    }

    proptest! {
        #[test]
        fn the_same_inputs_give_the_same_panel_and_proof_in_any_input_order(
            pool in pool_strategy(),
            filters in filters_strategy(),
            seed in any::<[u8; 32]>(),
            panel_size in 3_u32..7,
            alternates in 0_u32..4,
        ) {
            let seed = DrawSeed::from_bytes(seed);
            let first = draw(&seed, &pool, &filters, panel_size, alternates);
            let mut reversed = pool.clone();
            reversed.reverse();
            prop_assert_eq!(&first, &draw(&seed, &reversed, &filters, panel_size, alternates));
            prop_assert_eq!(&first, &draw(&seed, &pool, &filters, panel_size, alternates));
        }

        #[test]
        fn conflicted_experts_are_never_seated_nor_alternates(
            pool in pool_strategy(),
            filters in filters_strategy(),
            seed in any::<[u8; 32]>(),
            panel_size in 3_u32..7,
        ) {
            if let Ok(outcome) = draw(&DrawSeed::from_bytes(seed), &pool, &filters, panel_size, 3) {
                for chosen in outcome.panel.iter().chain(&outcome.alternates) {
                    let entry = pool.iter().find(|e| e.expert_id == chosen.expert_id).unwrap();
                    prop_assert!(!entry.conflicted(&filters.requesting_unit, &filters.parties));
                    prop_assert!(!entry.disciplines.is_disjoint(&filters.disciplines));
                    prop_assert_eq!(
                        chosen.subordinate,
                        entry.subordinate_to_requester(&filters.requesting_unit)
                    );
                }
            }
        }

        #[test]
        fn subordinate_experts_are_at_most_half_the_panel(
            pool in pool_strategy(),
            filters in filters_strategy(),
            seed in any::<[u8; 32]>(),
            panel_size in 3_u32..7,
        ) {
            match draw(&DrawSeed::from_bytes(seed), &pool, &filters, panel_size, 2) {
                Ok(outcome) => {
                    prop_assert_eq!(outcome.panel.len(), panel_size as usize);
                    let subordinates = outcome.panel.iter().filter(|c| c.subordinate).count();
                    prop_assert!(subordinates * 2 <= panel_size as usize);
                    let ids: BTreeSet<_> = outcome.panel.iter().chain(&outcome.alternates)
                        .map(|c| &c.expert_id).collect();
                    prop_assert_eq!(ids.len(), outcome.panel.len() + outcome.alternates.len());
                }
                Err(DrawError::InsufficientPool { seatable, needed, .. }) => {
                    prop_assert!(seatable < needed);
                }
                Err(other) => prop_assert!(false, "unexpected {other}"),
            }
        }

        #[test]
        fn any_changed_input_changes_the_proof(
            pool in pool_strategy(),
            filters in filters_strategy(),
            seed in any::<[u8; 32]>(),
            other_seed in any::<[u8; 32]>(),
            panel_size in 3_u32..5,
        ) {
            let seed_a = DrawSeed::from_bytes(seed);
            let Ok(base) = draw(&seed_a, &pool, &filters, panel_size, 1) else {
                return Ok(());
            };
            if other_seed != seed {
                let changed = draw(&DrawSeed::from_bytes(other_seed), &pool, &filters, panel_size, 1)
                    .unwrap();
                prop_assert_ne!(&base.proof, &changed.proof);
            }
            // One more alternate asked for.
            let more = draw(&seed_a, &pool, &filters, panel_size, 2).unwrap();
            prop_assert_ne!(&base.proof, &more.proof);
            // One pool entry changed (a version bump, as any edit of an expert makes).
            let mut edited = pool.clone();
            edited[0].version += 1;
            let changed = draw(&seed_a, &edited, &filters, panel_size, 1).unwrap();
            prop_assert_ne!(&base.pool_hash, &changed.pool_hash);
            prop_assert_ne!(&base.proof, &changed.proof);
            // A filter changed.
            let mut excluded = filters.clone();
            excluded.excluded.insert(ExpertId::parse("zz-not-in-pool").unwrap());
            if let Ok(changed) = draw(&seed_a, &pool, &excluded, panel_size, 1) {
                prop_assert_ne!(&base.proof, &changed.proof);
            }
        }
    }
}
