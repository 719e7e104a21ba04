//! The panel: the random draw (`caseledger-draw-v1`), a manual selection with its reason and
//! second person's approval, each seated expert's answer (accept with the pledge, decline),
//! recusal for a conflict with the next alternate that keeps the subordinate cap, and the
//! confirmation recorded by the answer that leaves no seat waiting.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};

use crate::actor::Role;
use crate::ids::ExpertId;
use crate::text::LongText;

use super::draw::{self, Candidate, DrawSeed, PoolEntry};
use super::error::ConsultationError;
use super::event::ConsultationEvent;
use super::state::Seat;
use super::types::{ConsultationStatus, SeatState};
use super::{quorum, ConsultationRequest, Issued, MAX_ALTERNATES, PLEDGE_VERSION};

impl ConsultationRequest {
    /// Draws the panel from the seed and pool snapshot in the command.
    pub(super) fn draw_panel(
        &self,
        issued: Issued,
        seed: DrawSeed,
        pool: Vec<PoolEntry>,
        alternates: u32,
    ) -> Result<Vec<ConsultationEvent>, ConsultationError> {
        use ConsultationStatus as S;
        let Issued { actor, at, name } = issued;
        Self::check_secretary(&actor, name)?;
        if self.status != S::Accepted {
            return Err(self.invalid());
        }
        if self.pending_selection.is_some() {
            return Err(ConsultationError::SelectionPending);
        }
        if alternates > MAX_ALTERNATES {
            return Err(ConsultationError::TooManyAlternates);
        }
        let pool = draw::canonical_pool(&pool).map_err(ConsultationError::Draw)?;
        let filters = self.draw_filters(&pool).ok_or_else(|| self.invalid())?;
        let outcome = draw::draw(&seed, &pool, &filters, self.panel_size, alternates)
            .map_err(ConsultationError::Draw)?;
        Ok(vec![ConsultationEvent::PanelDrawn {
            algorithm: draw::ALGORITHM.to_owned(),
            seed,
            pool,
            pool_hash: outcome.pool_hash,
            filters,
            panel_size: self.panel_size,
            alternates_requested: alternates,
            order: outcome.order,
            panel: outcome.panel,
            alternates: outcome.alternates,
            proof: outcome.proof,
            drawn_by: actor.sub,
            drawn_at: at,
        }])
    }

    /// Proposes a panel chosen by hand, checked against the pool snapshot, the conflicts and the cap.
    pub(super) fn propose_selection(
        &self,
        issued: Issued,
        panel: Vec<ExpertId>,
        alternates: Vec<ExpertId>,
        reason: LongText,
        pool: Vec<PoolEntry>,
    ) -> Result<Vec<ConsultationEvent>, ConsultationError> {
        use ConsultationStatus as S;
        let Issued { actor, at, name } = issued;
        Self::check_secretary(&actor, name)?;
        if self.status != S::Accepted {
            return Err(self.invalid());
        }
        if self.pending_selection.is_some() {
            return Err(ConsultationError::SelectionPending);
        }
        if alternates.len() > MAX_ALTERNATES as usize {
            return Err(ConsultationError::TooManyAlternates);
        }
        if panel.len() != self.panel_size as usize {
            return Err(ConsultationError::SelectionSizeMismatch);
        }
        let pool = draw::canonical_pool(&pool).map_err(ConsultationError::Draw)?;
        let pool_hash = draw::pool_hash(&pool).map_err(ConsultationError::Draw)?;
        let requesting_unit = self.requesting_unit.clone().ok_or_else(|| self.invalid())?;
        let mut named = BTreeSet::new();
        let mut candidates = |ids: Vec<ExpertId>| {
            ids.into_iter()
                .map(|expert_id| {
                    if !named.insert(expert_id.clone()) {
                        return Err(ConsultationError::DuplicateExpert(expert_id));
                    }
                    let entry = pool
                        .iter()
                        .find(|entry| entry.expert_id == expert_id)
                        .ok_or_else(|| ConsultationError::ExpertNotInPool(expert_id.clone()))?;
                    // An employee of the requesting unit is recused (回避) like a
                    // conflicted expert: the draw excludes them too.
                    if entry.conflicted(&requesting_unit, &self.parties)
                        || entry.employer_unit == requesting_unit
                    {
                        return Err(ConsultationError::ExpertConflicted(expert_id));
                    }
                    Ok(Candidate {
                        subordinate: entry.subordinate_to_requester(&requesting_unit),
                        expert_id,
                    })
                })
                .collect::<Result<Vec<_>, _>>()
        };
        let panel = candidates(panel)?;
        let alternates = candidates(alternates)?;
        let subordinates = panel.iter().filter(|c| c.subordinate).count() as u32;
        if subordinates > self.subordinate_cap() {
            return Err(ConsultationError::SubordinateCapExceeded {
                cap: self.subordinate_cap(),
            });
        }
        Ok(vec![ConsultationEvent::SelectionProposed {
            panel,
            alternates,
            reason: reason.into(),
            pool,
            pool_hash,
            proposed_by: actor.sub,
            proposed_at: at,
        }])
    }

    /// Approves the pending manual selection (never by its proposer).
    pub(super) fn approve_selection(
        &self,
        issued: Issued,
    ) -> Result<Vec<ConsultationEvent>, ConsultationError> {
        let Issued { actor, at, name } = issued;
        if !actor.has_any(&[Role::PanelSecretary, Role::DistrictLeader]) {
            return Err(ConsultationError::RoleNotAllowed { command: name });
        }
        let pending = self
            .pending_selection
            .as_ref()
            .ok_or(ConsultationError::NoSelectionPending)?;
        if pending.proposed_by == actor.sub {
            return Err(ConsultationError::ApproverIsProposer);
        }
        Ok(vec![ConsultationEvent::SelectionApproved {
            approved_by: actor.sub,
            approved_at: at,
        }])
    }

    /// A seated expert accepts with the confidentiality pledge.
    pub(super) fn accept_seat(
        &self,
        issued: Issued,
        pledge_accepted: bool,
    ) -> Result<Vec<ConsultationEvent>, ConsultationError> {
        let Issued { actor, at, name } = issued;
        let seat = self.own_seat(&actor, name)?;
        if seat.state != SeatState::Invited || self.is_concluded_or_ended() {
            return Err(ConsultationError::SeatNotOpen);
        }
        if !pledge_accepted {
            return Err(ConsultationError::PledgeRequired);
        }
        Ok(vec![ConsultationEvent::SeatAccepted {
            expert_id: seat.expert_id.clone(),
            pledge_version: PLEDGE_VERSION.to_owned(),
            accepted_at: at,
        }])
    }

    /// A seated expert declines; the next alternate steps in.
    pub(super) fn decline_seat(
        &self,
        issued: Issued,
        reason: LongText,
    ) -> Result<Vec<ConsultationEvent>, ConsultationError> {
        let Issued { actor, at, name } = issued;
        let seat = self.own_seat(&actor, name)?;
        if seat.state != SeatState::Invited || self.is_concluded_or_ended() {
            return Err(ConsultationError::SeatNotOpen);
        }
        let expert_id = seat.expert_id.clone();
        let mut events = vec![ConsultationEvent::SeatDeclined {
            expert_id: expert_id.clone(),
            reason: reason.into(),
            declined_at: at,
        }];
        events.extend(self.next_alternate(&expert_id, at));
        Ok(events)
    }

    /// A seated expert declares a conflict and is recused; the next alternate steps in.
    pub(super) fn declare_conflict(
        &self,
        issued: Issued,
        reason: LongText,
    ) -> Result<Vec<ConsultationEvent>, ConsultationError> {
        let Issued { actor, at, name } = issued;
        let seat = self.own_seat(&actor, name)?;
        if !seat.is_active() || self.is_concluded_or_ended() {
            return Err(ConsultationError::SeatNotOpen);
        }
        let expert_id = seat.expert_id.clone();
        let mut events = vec![ConsultationEvent::ExpertRecused {
            expert_id: expert_id.clone(),
            reason: reason.into(),
            self_declared: true,
            recused_by: actor.sub,
            recused_at: at,
        }];
        events.extend(self.next_alternate(&expert_id, at));
        Ok(events)
    }

    /// The panel secretary recuses a seated expert; the next alternate steps in.
    pub(super) fn recuse(
        &self,
        issued: Issued,
        expert_id: ExpertId,
        reason: LongText,
    ) -> Result<Vec<ConsultationEvent>, ConsultationError> {
        let Issued { actor, at, name } = issued;
        Self::check_secretary(&actor, name)?;
        let seat = self.seat(&expert_id).ok_or(ConsultationError::NotSeated)?;
        if !seat.is_active() || self.is_concluded_or_ended() {
            return Err(ConsultationError::SeatNotOpen);
        }
        let mut events = vec![ConsultationEvent::ExpertRecused {
            expert_id: expert_id.clone(),
            reason: reason.into(),
            self_declared: false,
            recused_by: actor.sub,
            recused_at: at,
        }];
        events.extend(self.next_alternate(&expert_id, at));
        Ok(events)
    }

    /// The first unused alternate whose seating keeps the subordinate cap, replacing `vacated`.
    pub(super) fn next_alternate(
        &self,
        vacated: &ExpertId,
        at: DateTime<Utc>,
    ) -> Option<ConsultationEvent> {
        let subordinates = self
            .seats
            .iter()
            .filter(|seat| seat.is_active() && seat.subordinate && &seat.expert_id != vacated)
            .count() as u32;
        self.alternates
            .iter()
            .find(|candidate| !candidate.subordinate || subordinates < self.subordinate_cap())
            .map(|candidate| ConsultationEvent::AlternateSeated {
                expert_id: candidate.expert_id.clone(),
                replaces: vacated.clone(),
                subordinate: candidate.subordinate,
                seated_at: at,
            })
    }

    /// `PanelConfirmed` when the `events` just decided leave no active seat waiting for its
    /// answer and at least a quorum of seats active: the panel is confirmed by the answer that
    /// leaves no seat waiting.
    pub(super) fn confirmation(
        &self,
        events: &[ConsultationEvent],
        at: DateTime<Utc>,
    ) -> Option<ConsultationEvent> {
        let mut after = self.clone();
        for event in events {
            after.evolve(event);
        }
        let active: Vec<&Seat> = after.seats.iter().filter(|seat| seat.is_active()).collect();
        (after.status == ConsultationStatus::PanelDrawn
            && active.iter().all(|seat| seat.state == SeatState::Accepted)
            && active.len() as u32 >= quorum(after.panel_size))
        .then_some(ConsultationEvent::PanelConfirmed { confirmed_at: at })
    }
}
