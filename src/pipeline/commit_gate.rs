//! The group commit hands the deliveries it claimed to the sender before its `COMMIT`, so
//! that the sender renders while the database commits (`pipeline::writer`'s hand-off). What
//! the sender may do before it knows the outcome is pure: render the message. Everything
//! with an effect (the post to Slack, the outcome written, a claim handed back, a probe
//! taken) waits at the [`CommitGate`] until the writer says whether the transaction that
//! claimed the delivery committed; when it did not, the delivery never existed and is
//! dropped without a trace. Nothing is posted for an event that was not stored.

use tokio::sync::watch;

/// The writer's side: says once whether the batch's transaction committed. Dropped without
/// a word (a panic on the writer thread), it counts as not committed.
pub struct CommitSignal(watch::Sender<Option<bool>>);

/// The sender's side, one clone per handed delivery.
#[derive(Clone, Debug)]
pub struct CommitGate(watch::Receiver<Option<bool>>);

/// A signal and its gate, not yet settled.
pub fn commit_gate() -> (CommitSignal, CommitGate) {
    let (tx, rx) = watch::channel(None);
    (CommitSignal(tx), CommitGate(rx))
}

impl CommitSignal {
    /// Opens the gates: `committed` says whether their deliveries exist.
    pub fn settle(self, committed: bool) {
        self.0.send_replace(Some(committed));
    }
}

impl CommitGate {
    /// The outcome if it is known already (`None`: not yet), without waiting.
    pub fn settled(&self) -> Option<bool> {
        *self.0.borrow()
    }

    /// Waits until the transaction's outcome is known; whether it committed.
    pub async fn committed(&mut self) -> bool {
        // A dropped signal without a value reads as an error: not committed.
        self.0
            .wait_for(Option::is_some)
            .await
            .is_ok_and(|v| *v == Some(true))
    }
}

/// A handed delivery's gate until it was passed: [`Pending::pass`] waits once, later calls
/// answer at once. A delivery that was not handed at commit has none to pass.
#[derive(Debug, Default)]
pub struct Pending(Option<CommitGate>);

impl Pending {
    pub fn new(gate: Option<CommitGate>) -> Self {
        Self(gate)
    }

    /// Whether the delivery exists: waits for its transaction's outcome the first time.
    pub async fn pass(&mut self) -> bool {
        match self.0.take() {
            None => true,
            Some(mut gate) => {
                let committed = gate.committed().await;
                if !committed {
                    // Stays shut for any later call.
                    self.0 = Some(gate);
                }
                committed
            }
        }
    }

    /// Whether the outcome is still to be waited for.
    pub fn waiting(&self) -> bool {
        self.0.is_some()
    }

    /// The gate still to be passed, if any.
    pub fn gate(&self) -> Option<&CommitGate> {
        self.0.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[actix_web::test]
    async fn a_gate_opens_with_the_commit_and_stays_shut_without_one() {
        let (signal, gate) = commit_gate();
        let mut early = Pending::new(Some(gate.clone()));
        let waiting = actix_web::rt::spawn(async move { early.pass().await });
        actix_web::rt::task::yield_now().await;
        signal.settle(true);
        assert!(waiting.await.unwrap());
        // A clone taken after the outcome sees it at once.
        let mut late = Pending::new(Some(gate));
        assert!(late.pass().await);
        assert!(!late.waiting());

        let (signal, gate) = commit_gate();
        assert_eq!(gate.settled(), None, "nothing known before the outcome");
        signal.settle(false);
        assert_eq!(gate.settled(), Some(false));
        let mut shut = Pending::new(Some(gate));
        assert!(!shut.pass().await);
        assert!(!shut.pass().await, "a second look does not open it");

        let (signal, gate) = commit_gate();
        drop(signal);
        assert!(!Pending::new(Some(gate)).pass().await);
        assert!(Pending::new(None).pass().await, "nothing to wait for");
    }
}
