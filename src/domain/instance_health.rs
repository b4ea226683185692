//! A service's health from the platform's instances (machines, containers),
//! for the console and the gates when no health probe is configured.

use super::{Health, Instance};

/// The instances that run `service`: those whose `service` (Fly: the
/// machine's process group) is its name; when none is and the env has a
/// single service, all of them.
pub fn instances_of<'a>(
    all: &'a [Instance],
    service: &str,
    only_service: bool,
) -> Vec<&'a Instance> {
    let named: Vec<&Instance> = all.iter().filter(|i| i.service == service).collect();
    if named.is_empty() && only_service {
        all.iter().collect()
    } else {
        named
    }
}

/// The worst health of `instances`, leaving out stopped ones while any other
/// runs (a stopped standby is not a fault); `Suspended` when all are stopped,
/// `Unknown` when there are none yet.
pub fn health_of(instances: &[&Instance]) -> Health {
    let running: Vec<Health> = instances
        .iter()
        .map(|i| i.health)
        .filter(|h| *h != Health::Suspended)
        .collect();
    match (instances.is_empty(), running.is_empty()) {
        (true, _) => Health::Unknown,
        (false, true) => Health::Suspended,
        (false, false) => running.into_iter().fold(Health::Healthy, Health::worst),
    }
}
