//! The span a run's scheduler did not answer (issue 11 item 3): Admin Router's 502/504 while
//! no scheduler listens, from the first refused call to the first answer after it.

use crate::cluster::ClusterError;
use crate::time::Timestamp;

/// One span the scheduler refused every call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Span {
    /// The first and the last poll whose scheduler calls were refused.
    pub(crate) from: Timestamp,
    pub(crate) to: Timestamp,
    /// The first poll the scheduler answered again (`None`: the run ended first).
    pub(crate) back: Option<Timestamp>,
    pub(crate) refused: u32,
}

/// Follows the scheduler's answers poll by poll.
#[derive(Clone, Debug, Default)]
pub(crate) struct Outage {
    open: Option<Span>,
}

impl Outage {
    /// Notes one poll at `at`: its failed calls, and whether the scheduler answered one.
    /// Returns the span the answer ended.
    pub(crate) fn note(
        &mut self,
        at: Timestamp,
        errors: &[ClusterError],
        answered: bool,
    ) -> Option<Span> {
        let refused = errors.iter().filter(|e| e.scheduler_unreachable()).count() as u32;
        if refused > 0 {
            let span = self.open.get_or_insert(Span {
                from: at,
                to: at,
                back: None,
                refused: 0,
            });
            span.to = at;
            span.refused += refused;
        }
        if answered && refused == 0 {
            return self.open.take().map(|s| Span {
                back: Some(at),
                ..s
            });
        }
        None
    }

    /// The span still open when the run ends.
    pub(crate) fn close(&mut self) -> Option<Span> {
        self.open.take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::Api;

    #[test]
    fn a_span_runs_from_the_first_refusal_to_the_first_answer() {
        let t = Timestamp::from_millis;
        let refused = [ClusterError::Transient {
            api: Api::Scheduler,
            message: "HTTP 502: <html>".into(),
        }];
        let other = [ClusterError::Transient {
            api: Api::Scheduler,
            message: "HTTP 500: boom".into(),
        }];
        let mut o = Outage::default();
        assert_eq!(o.note(t(0), &other, false), None);
        assert_eq!(o.note(t(1), &refused, false), None);
        assert_eq!(o.note(t(2), &refused, false), None);
        let span = o.note(t(3), &[], true).unwrap();
        assert_eq!(
            span,
            Span {
                from: t(1),
                to: t(2),
                back: Some(t(3)),
                refused: 2
            }
        );
        assert_eq!(o.note(t(4), &[], true), None);
        o.note(t(5), &refused, false);
        assert_eq!(o.close().unwrap().back, None);
    }
}
