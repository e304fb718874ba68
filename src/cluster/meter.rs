//! Request accounting and the request budget: every backend counts each request it sends, per
//! service, and holds back a request that would put more than the budget into one minute.
//!
//! The three services are the ones a user pays for in throttling: EC2, EC2 Auto Scaling and
//! DC/OS (the Mesos master and the service scheduler both sit behind Admin Router).

use std::collections::VecDeque;

use super::Api;
use crate::time::{Dur, Timestamp};
use crate::vocab::Requests;

/// The window the budget is counted over.
pub(crate) const BUDGET_WINDOW: Dur = Dur::from_secs(60);

/// The count `api`'s requests go to.
fn slot(r: &mut Requests, api: Api) -> &mut u64 {
    match api {
        Api::Ec2 => &mut r.ec2,
        Api::AutoScaling => &mut r.autoscaling,
        Api::Mesos | Api::Scheduler => &mut r.dcos,
    }
}

const fn service_index(api: Api) -> usize {
    match api {
        Api::Ec2 => 0,
        Api::AutoScaling => 1,
        Api::Mesos | Api::Scheduler => 2,
    }
}

/// The counts, and the send times of the last minute while a budget is set.
#[derive(Clone, Debug, Default)]
pub(crate) struct ApiMeter {
    sent: Requests,
    /// At most this many requests per service in any [`BUDGET_WINDOW`].
    budget: Option<u32>,
    recent: [VecDeque<Timestamp>; 3],
}

impl ApiMeter {
    /// Sets the budget (`None`: unlimited). A budget of 0 is treated as 1: a request must
    /// always be able to go eventually.
    pub(crate) fn set_budget(&mut self, per_minute: Option<u32>) {
        self.budget = per_minute.map(|b| b.max(1));
        if self.budget.is_none() {
            self.recent.iter_mut().for_each(VecDeque::clear);
        }
    }

    /// Everything sent so far.
    pub(crate) fn sent(&self) -> Requests {
        self.sent
    }

    /// How long from `now` until a run that asks `need` requests per service may start: the
    /// last minute leaves room for them, and at least `need / budget` minutes have passed
    /// since the previous run started (`last_start`), so that runs are spread evenly rather
    /// than let through in a burst and then held back for most of a minute. Each service's
    /// need counts at most half the budget (a run that asks more spreads them over several
    /// minutes). Zero without a budget.
    pub(crate) fn room_in(
        &self,
        need: Requests,
        last_start: Option<Timestamp>,
        now: Timestamp,
    ) -> Dur {
        let Some(budget) = self.budget else {
            return Dur::ZERO;
        };
        let budget = budget as usize;
        [need.ec2, need.autoscaling, need.dcos]
            .into_iter()
            .zip(&self.recent)
            .map(|(n, recent)| {
                let n = (n as usize).min(budget / 2);
                let paced = last_start.map_or(Dur::ZERO, |t| {
                    let share = BUDGET_WINDOW.as_millis() * n as u64 / budget as u64;
                    t.saturating_add(Dur::from_millis(share)).since(now)
                });
                let mut live = recent.iter().filter(|t| now.since(**t) < BUDGET_WINDOW);
                // The request that must leave the window for `n` more to fit.
                let room = match (live.clone().count() + n).checked_sub(budget + 1) {
                    Some(i) => live
                        .nth(i)
                        .map_or(Dur::ZERO, |t| t.saturating_add(BUDGET_WINDOW).since(now)),
                    None => Dur::ZERO,
                };
                room.max(paced)
            })
            .max()
            .unwrap_or(Dur::ZERO)
    }

    /// A request to `api` wants to go at `now`: records it and returns zero, or, when the
    /// budget is spent, records nothing and returns how long to wait before asking again.
    pub(crate) fn admit(&mut self, api: Api, now: Timestamp) -> Dur {
        if let Some(budget) = self.budget {
            let recent = &mut self.recent[service_index(api)];
            while recent
                .front()
                .is_some_and(|t| now.since(*t) >= BUDGET_WINDOW)
            {
                recent.pop_front();
            }
            let budget = budget as usize;
            if recent.len() >= budget {
                // The request that must leave the window before one more fits.
                let leaving = recent[recent.len() - budget];
                return leaving
                    .saturating_add(BUDGET_WINDOW)
                    .since(now)
                    .max(Dur::from_millis(1));
            }
            recent.push_back(now);
        }
        *slot(&mut self.sent, api) += 1;
        Dur::ZERO
    }
}

impl std::ops::Add for Requests {
    type Output = Requests;

    fn add(self, other: Requests) -> Requests {
        Requests {
            ec2: self.ec2 + other.ec2,
            autoscaling: self.autoscaling + other.autoscaling,
            dcos: self.dcos + other.dcos,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: i64) -> Timestamp {
        Timestamp::from_millis(s * 1000)
    }

    #[test]
    fn counts_per_service_with_mesos_and_scheduler_as_dcos() {
        let mut m = ApiMeter::default();
        for api in [
            Api::Ec2,
            Api::Mesos,
            Api::Scheduler,
            Api::AutoScaling,
            Api::Ec2,
        ] {
            assert_eq!(m.admit(api, at(0)), Dur::ZERO);
        }
        assert_eq!(
            m.sent(),
            Requests {
                ec2: 2,
                autoscaling: 1,
                dcos: 2
            }
        );
    }

    #[test]
    fn no_minute_holds_more_than_the_budget() {
        let mut m = ApiMeter::default();
        m.set_budget(Some(3));
        let mut sent = Vec::new();
        let mut now = at(0);
        // A caller that asks every second and waits when told to.
        while sent.len() < 10 {
            let wait = m.admit(Api::Scheduler, now);
            if wait.is_zero() {
                sent.push(now);
                now = now.saturating_add(Dur::from_secs(1));
            } else {
                now = now.saturating_add(wait);
            }
        }
        for (i, t) in sent.iter().enumerate() {
            let in_window = sent[i..]
                .iter()
                .filter(|u| u.since(*t) < BUDGET_WINDOW)
                .count();
            assert!(
                in_window <= 3,
                "{in_window} requests in the minute from {t}"
            );
        }
        // The budget delays, it does not starve: the fourth request goes a minute after the first.
        assert_eq!(sent[3], at(60));
        // Other services are not held back by the scheduler's budget.
        assert_eq!(m.admit(Api::Ec2, sent[9]), Dur::ZERO);
    }

    #[test]
    fn lowering_the_budget_waits_for_the_excess_to_age_out() {
        let mut m = ApiMeter::default();
        m.set_budget(Some(10));
        for s in 0..5 {
            assert_eq!(m.admit(Api::Ec2, at(s)), Dur::ZERO);
        }
        m.set_budget(Some(2));
        // Two may be in the window: the fourth request (sent at 3 s) must leave first.
        assert_eq!(m.admit(Api::Ec2, at(10)), Dur::from_secs(53));
        assert_eq!(m.admit(Api::Ec2, at(64)), Dur::ZERO);
        assert_eq!(m.sent().ec2, 6);
    }

    #[test]
    fn a_run_starts_when_the_last_minute_has_room_for_it_and_its_share_has_passed() {
        let mut m = ApiMeter::default();
        let need = Requests {
            ec2: 0,
            autoscaling: 8,
            dcos: 0,
        };
        assert_eq!(m.room_in(need, Some(at(0)), at(0)), Dur::ZERO);
        m.set_budget(Some(10));
        for s in 0..6 {
            assert!(m.admit(Api::AutoScaling, at(s)).is_zero());
        }
        // 6 of 10 in the last minute; 5 (half the budget) fit once 1 has left: at 60 s.
        assert_eq!(m.room_in(need, None, at(10)), Dur::from_secs(50));
        assert_eq!(m.room_in(need, None, at(60)), Dur::ZERO);
        // 4 fit now.
        let four = Requests {
            autoscaling: 4,
            ..need
        };
        assert_eq!(m.room_in(four, None, at(10)), Dur::ZERO);
        // Runs are spread: 4 of a budget of 10 a minute is one run every 24 s.
        assert_eq!(m.room_in(four, Some(at(0)), at(10)), Dur::from_secs(14));
    }
}
