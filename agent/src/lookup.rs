//! The ConfigMaps, Secrets and Services pods refer to, read from informers'
//! stores rather than from the API on every sync (the kubelet watches the
//! objects its pods use; one informer per kind is the same at this scale).

use berth_client::{index, Api, Client, Informer, InformerConfig, Store};
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service};

use crate::env::{LookupError, ObjectLookup};

/// Informers over every ConfigMap, Secret and Service; dropping it stops them.
pub struct InformerLookup {
    config_maps: Informer<ConfigMap>,
    secrets: Informer<Secret>,
    services: Informer<Service>,
}

impl InformerLookup {
    /// Starts the three informers.
    pub fn spawn(client: &Client) -> Self {
        let config = InformerConfig::default();
        InformerLookup {
            config_maps: Informer::spawn(Api::all(client.clone()), config.clone(), vec![]),
            secrets: Informer::spawn(Api::all(client.clone()), config.clone(), vec![]),
            services: Informer::spawn(
                Api::all(client.clone()),
                config,
                vec![(index::NAMESPACE, index::namespace::<Service>())],
            ),
        }
    }

    /// Waits until each informer has its first list.
    pub async fn wait_synced(&self) {
        self.config_maps.wait_synced().await;
        self.secrets.wait_synced().await;
        self.services.wait_synced().await;
    }
}

fn get<K: berth_client::Resource>(store: &Store<K>, namespace: &str, name: &str) -> Option<K> {
    store
        .get(&format!("{namespace}/{name}"))
        .map(|o| o.as_ref().clone())
}

impl ObjectLookup for InformerLookup {
    fn config_map(&self, namespace: &str, name: &str) -> Result<Option<ConfigMap>, LookupError> {
        Ok(get(&self.config_maps.store(), namespace, name))
    }

    fn secret(&self, namespace: &str, name: &str) -> Result<Option<Secret>, LookupError> {
        Ok(get(&self.secrets.store(), namespace, name))
    }

    fn services(&self, namespace: &str) -> Result<Vec<Service>, LookupError> {
        Ok(self
            .services
            .store()
            .by_index(index::NAMESPACE, namespace)
            .into_iter()
            .map(|s| s.as_ref().clone())
            .collect())
    }
}
