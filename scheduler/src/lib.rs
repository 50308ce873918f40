//! berth-scheduler: picks a node for every new Pod, as kube-scheduler does.
