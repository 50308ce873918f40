//! Leader election on a coordination.k8s.io/v1 Lease, as client-go's
//! leaderelection package: candidates take a Lease that nobody renewed for
//! its duration, the holder renews it every retry period, and a holder that
//! cannot renew within the renew deadline stops leading before anyone else
//! may take over (deadline 10 s < duration 15 s).

use std::future::Future;
use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::{Api, Client, Error};

/// client-go's defaults (kube-controller-manager and kube-scheduler use
/// them): lease 15 s, renew deadline 10 s, retry every 2 s.
#[derive(Clone, Debug)]
pub struct LeaseConfig {
    /// How long a Lease nobody renews stays held.
    pub lease_duration: Duration,
    /// How long the holder keeps trying to renew before it gives up leading.
    pub renew_deadline: Duration,
    /// Time between attempts to acquire or renew.
    pub retry_period: Duration,
}

impl Default for LeaseConfig {
    fn default() -> Self {
        LeaseConfig {
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
        }
    }
}

/// What this candidate last saw of the Lease, and when (by its own clock:
/// expiry is judged by when the record last changed here, never by
/// comparing another member's timestamps with ours).
#[derive(Clone, Debug)]
struct Observed {
    holder: String,
    renew_time: Option<MicroTime>,
    at: Instant,
}

/// One candidate for the Lease `namespace/name`.
pub struct LeaderElector {
    api: Api<Lease>,
    name: String,
    identity: String,
    config: LeaseConfig,
    observed: Option<Observed>,
}

/// Why [`LeaderElector::run`] returned.
#[derive(Debug, PartialEq, Eq)]
pub enum Ended {
    /// `stop` was set; the Lease was released if held.
    Stopped,
    /// The work passed to `run` returned while leading.
    WorkDone,
}

impl LeaderElector {
    /// A candidate named `identity` for the Lease `namespace/name`.
    pub fn new(
        client: Client,
        namespace: &str,
        name: &str,
        identity: &str,
        config: LeaseConfig,
    ) -> Self {
        LeaderElector {
            api: Api::namespaced(client, namespace),
            name: name.to_string(),
            identity: identity.to_string(),
            config,
            observed: None,
        }
    }

    /// Campaigns until elected, then runs `lead()` while renewing. If the
    /// Lease is lost, the work is dropped (cancelled) and the candidate
    /// campaigns again; when `stop` turns true the work is dropped and the
    /// Lease released so another member takes over at once.
    pub async fn run<F, Fut>(&mut self, mut stop: watch::Receiver<bool>, mut lead: F) -> Ended
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = ()>,
    {
        loop {
            // Campaign.
            loop {
                if *stop.borrow() {
                    return Ended::Stopped;
                }
                match self.try_acquire_or_renew().await {
                    Ok(true) => break,
                    Ok(false) => {}
                    Err(e) => tracing::debug!(lease = %self.name, error = %e, "acquire failed"),
                }
                let wait = self
                    .config
                    .retry_period
                    .mul_f64(1.0 + 0.2 * rand::random::<f64>());
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = stop.changed() => {}
                }
            }
            tracing::info!(lease = %self.name, identity = %self.identity, "became leader");
            let outcome = {
                let work = lead();
                tokio::pin!(work);
                tokio::select! {
                    _ = &mut work => Some(Ended::WorkDone),
                    _ = keep_renewing(self) => None,
                    _ = stop.wait_for(|s| *s) => Some(Ended::Stopped),
                }
            };
            match outcome {
                Some(ended) => {
                    self.release().await;
                    return ended;
                }
                None => {
                    tracing::warn!(lease = %self.name, identity = %self.identity, "leader lease lost")
                }
            }
        }
    }

    /// One attempt: creates the Lease, renews it if held, or takes it over
    /// if it expired or was released. True if this candidate holds it now.
    pub async fn try_acquire_or_renew(&mut self) -> Result<bool, Error> {
        let now = MicroTime(jiff::Timestamp::now());
        let Some(mut lease) = self.api.get_opt(&self.name).await? else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.name.clone()),
                    ..ObjectMeta::default()
                },
                spec: Some(LeaseSpec {
                    holder_identity: Some(self.identity.clone()),
                    lease_duration_seconds: Some(self.duration_seconds()),
                    acquire_time: Some(now.clone()),
                    renew_time: Some(now),
                    lease_transitions: Some(0),
                    ..LeaseSpec::default()
                }),
            };
            return match self.api.create(&lease).await {
                Ok(created) => {
                    self.observe(&created);
                    Ok(true)
                }
                Err(e) if e.is_already_exists() => Ok(false),
                Err(e) => Err(e),
            };
        };
        self.observe(&lease);
        let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
        let holder = spec.holder_identity.clone().unwrap_or_default();
        let mine = holder == self.identity;
        if !mine && !holder.is_empty() && !self.expired() {
            return Ok(false);
        }
        if !mine {
            spec.acquire_time = Some(now.clone());
            spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
            spec.holder_identity = Some(self.identity.clone());
        }
        spec.renew_time = Some(now);
        spec.lease_duration_seconds = Some(self.duration_seconds());
        // The update carries the resourceVersion read above: of two
        // candidates taking over at once, one gets 409 Conflict.
        match self.api.replace(&lease).await {
            Ok(updated) => {
                self.observe(&updated);
                Ok(true)
            }
            Err(e) if e.is_conflict() => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Gives the Lease up (client-go's ReleaseOnCancel): empty holder, so
    /// the next candidate needs not wait for the lease duration.
    async fn release(&mut self) {
        let Ok(Some(mut lease)) = self.api.get_opt(&self.name).await else {
            return;
        };
        let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
        if spec.holder_identity.as_deref() != Some(self.identity.as_str()) {
            return;
        }
        let now = MicroTime(jiff::Timestamp::now());
        spec.holder_identity = None;
        spec.lease_duration_seconds = Some(1);
        spec.renew_time = Some(now.clone());
        spec.acquire_time = Some(now);
        match self.api.replace(&lease).await {
            Ok(_) => tracing::info!(lease = %self.name, identity = %self.identity, "released"),
            Err(e) => tracing::debug!(lease = %self.name, error = %e, "release failed"),
        }
    }

    fn observe(&mut self, lease: &Lease) {
        let spec = lease.spec.as_ref();
        let holder = spec
            .and_then(|s| s.holder_identity.clone())
            .unwrap_or_default();
        let renew_time = spec.and_then(|s| s.renew_time.clone());
        let changed = match &self.observed {
            Some(o) => o.holder != holder || o.renew_time != renew_time,
            None => true,
        };
        if changed {
            self.observed = Some(Observed {
                holder,
                renew_time,
                at: Instant::now(),
            });
        }
    }

    fn expired(&self) -> bool {
        match &self.observed {
            Some(o) => o.at + self.config.lease_duration <= Instant::now(),
            None => true,
        }
    }

    fn duration_seconds(&self) -> i32 {
        i32::try_from(self.config.lease_duration.as_secs()).unwrap_or(i32::MAX)
    }
}

/// Renews every retry period; returns when a renewal did not succeed
/// within the renew deadline: leadership is lost.
async fn keep_renewing(elector: &mut LeaderElector) {
    loop {
        tokio::time::sleep(elector.config.retry_period).await;
        let deadline = Instant::now() + elector.config.renew_deadline;
        let renewed = loop {
            let attempt = tokio::time::timeout_at(deadline, elector.try_acquire_or_renew()).await;
            match attempt {
                Ok(Ok(true)) => break true,
                Ok(Ok(false)) => break false,
                Ok(Err(e)) => {
                    tracing::debug!(lease = %elector.name, error = %e, "renew failed")
                }
                Err(_) => break false,
            }
            if tokio::time::timeout_at(deadline, tokio::time::sleep(elector.config.retry_period))
                .await
                .is_err()
            {
                break false;
            }
        };
        if !renewed {
            return;
        }
    }
}
