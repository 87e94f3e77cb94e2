//! The scaling decision for the node StatefulSet, pure: from the replicas running, the
//! replicas wanted and control's view, what to tell control and how many pods to keep.
//! Scale-out grows first and rebalances once every new node has registered; scale-in drains
//! the highest ordinal first, one node at a time, shrinks only when all are empty, and
//! forgets a removed node in control once control has seen it die (a live node that is
//! forgotten registers again).
//!
//! A node picks its own id, so control's nodes are matched to pods by the RESP address they
//! announce: `ordinal(addr)` gives the StatefulSet ordinal of an address, if it is one of ours.

use super::control_api::{ControlView, NodeView};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodePlan {
    /// Run `replicas` pods; ask control to rebalance when `rebalance`.
    Grow { replicas: i32, rebalance: bool },
    /// Keep `replicas` pods and ask control to drain node `id`.
    Drain { replicas: i32, id: String },
    /// Keep `replicas` pods: migrations off the leaving nodes are in flight, or control cannot
    /// be asked (never shrink without knowing the leaving nodes are empty).
    Wait { replicas: i32 },
    /// Every leaving node is empty: run `replicas` pods.
    Shrink { replicas: i32 },
}

impl NodePlan {
    pub fn replicas(&self) -> i32 {
        match self {
            NodePlan::Grow { replicas, .. }
            | NodePlan::Drain { replicas, .. }
            | NodePlan::Wait { replicas }
            | NodePlan::Shrink { replicas } => *replicas,
        }
    }
}

fn at<'a>(
    view: &'a ControlView,
    ordinal: &impl Fn(&str) -> Option<i32>,
    i: i32,
) -> Option<&'a NodeView> {
    view.nodes.iter().find(|n| ordinal(&n.resp_addr) == Some(i))
}

pub fn plan(
    current: i32,
    desired: i32,
    view: Option<&ControlView>,
    ordinal: impl Fn(&str) -> Option<i32>,
) -> NodePlan {
    if desired >= current {
        let rebalance = view.is_some_and(|v| needs_rebalance(v, desired, &ordinal));
        return NodePlan::Grow {
            replicas: desired,
            rebalance,
        };
    }
    let Some(view) = view else {
        return NodePlan::Wait { replicas: current };
    };
    // Highest ordinal first.
    let leaving: Vec<&NodeView> = (desired..current)
        .rev()
        .filter_map(|i| at(view, &ordinal, i))
        .collect();
    if leaving.iter().any(|n| view.moving(&n.id)) {
        return NodePlan::Wait { replicas: current };
    }
    match leaving.iter().find(|n| n.slots > 0) {
        Some(n) => NodePlan::Drain {
            replicas: current,
            id: n.id.clone(),
        },
        None => NodePlan::Shrink { replicas: desired },
    }
}

/// Nodes still in control whose pods are beyond `replicas` (removed or being removed).
pub fn leftovers(
    view: &ControlView,
    replicas: i32,
    ordinal: impl Fn(&str) -> Option<i32>,
) -> Vec<&NodeView> {
    let mut left: Vec<(i32, &NodeView)> = view
        .nodes
        .iter()
        .filter_map(|n| ordinal(&n.resp_addr).map(|i| (i, n)))
        .filter(|(i, _)| *i >= replicas)
        .collect();
    left.sort_by_key(|(i, _)| std::cmp::Reverse(*i));
    left.into_iter().map(|(_, n)| n).collect()
}

/// The leftovers control may forget now, highest ordinal first: seen dead (so they will not
/// register again), owning nothing, in no migration.
pub fn forgettable(
    view: &ControlView,
    replicas: i32,
    ordinal: impl Fn(&str) -> Option<i32>,
) -> Vec<String> {
    leftovers(view, replicas, ordinal)
        .into_iter()
        .filter(|n| !n.healthy && n.slots == 0 && !view.moving(&n.id))
        .map(|n| n.id.clone())
        .collect()
}

/// Every wanted node has registered healthy, nothing is moving, and some wanted node owns
/// nothing (new) or some slot has no owner (a fresh cluster).
fn needs_rebalance(
    view: &ControlView,
    desired: i32,
    ordinal: &impl Fn(&str) -> Option<i32>,
) -> bool {
    let wanted: Vec<Option<&NodeView>> = (0..desired).map(|i| at(view, ordinal, i)).collect();
    let registered = wanted.iter().all(|n| n.is_some_and(|n| n.healthy));
    let empty = wanted.iter().any(|n| n.is_some_and(|n| n.slots == 0));
    let unassigned = view.slots_assigned() < crate::SLOT_COUNT as u32;
    registered && view.moves.is_empty() && (empty || unassigned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operator::control_api::MoveView;

    fn ordinal(addr: &str) -> Option<i32> {
        addr.strip_prefix("pod-")?.parse().ok()
    }

    fn view(slots: &[u32]) -> ControlView {
        ControlView {
            epoch: 7,
            nodes: slots
                .iter()
                .enumerate()
                .map(|(i, &s)| NodeView {
                    id: format!("id{i}"),
                    resp_addr: format!("pod-{i}"),
                    healthy: true,
                    slots: s,
                })
                .collect(),
            moves: vec![],
        }
    }

    fn grow(replicas: i32, rebalance: bool) -> NodePlan {
        NodePlan::Grow {
            replicas,
            rebalance,
        }
    }

    #[test]
    fn fresh_cluster_rebalances_once_all_registered() {
        assert_eq!(plan(0, 3, Some(&view(&[0, 0])), ordinal), grow(3, false));
        assert_eq!(plan(0, 3, Some(&view(&[0, 0, 0])), ordinal), grow(3, true));
        assert_eq!(plan(3, 3, None, ordinal), grow(3, false));
        // A node that is not one of our pods does not count.
        let mut v = view(&[0, 0]);
        v.nodes.push(NodeView {
            id: "other".into(),
            resp_addr: "10.0.0.9:6379".into(),
            healthy: true,
            slots: 0,
        });
        assert_eq!(plan(0, 3, Some(&v), ordinal), grow(3, false));
    }

    #[test]
    fn balanced_or_moving_cluster_is_left_alone() {
        let balanced = view(&[5462, 5461, 5461]);
        assert_eq!(plan(3, 3, Some(&balanced), ordinal), grow(3, false));
        let mut moving = view(&[8192, 8192, 0]);
        moving.moves.push(MoveView {
            source: "id0".into(),
            target: "id2".into(),
        });
        assert_eq!(plan(3, 3, Some(&moving), ordinal), grow(3, false));
    }

    #[test]
    fn scale_in_drains_highest_first_then_shrinks() {
        let v = view(&[4096, 4096, 4096, 4096]);
        let drain = |id: &str| NodePlan::Drain {
            replicas: 4,
            id: id.into(),
        };
        assert_eq!(plan(4, 2, Some(&v), ordinal), drain("id3"));
        let v = view(&[6000, 6000, 4384, 0]);
        assert_eq!(plan(4, 2, Some(&v), ordinal), drain("id2"));
        let mut v = view(&[8192, 8192, 0, 0]);
        assert_eq!(
            plan(4, 2, Some(&v), ordinal),
            NodePlan::Shrink { replicas: 2 }
        );
        v.moves.push(MoveView {
            source: "id2".into(),
            target: "id0".into(),
        });
        assert_eq!(
            plan(4, 2, Some(&v), ordinal),
            NodePlan::Wait { replicas: 4 }
        );
        assert_eq!(plan(4, 2, None, ordinal), NodePlan::Wait { replicas: 4 });
    }

    #[test]
    fn removed_nodes_are_forgotten_once_dead_and_empty() {
        let mut v = view(&[8192, 8192, 0, 0]);
        let ids = |ns: Vec<&NodeView>| ns.iter().map(|n| n.id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(leftovers(&v, 2, ordinal)), ["id3", "id2"]);
        // Still alive (pods terminating): a forgotten live node would register again.
        assert!(forgettable(&v, 2, ordinal).is_empty());
        v.nodes[3].healthy = false;
        assert_eq!(forgettable(&v, 2, ordinal), ["id3"]);
        v.nodes[2].healthy = false;
        assert_eq!(forgettable(&v, 2, ordinal), ["id3", "id2"]);
        assert!(leftovers(&v, 4, ordinal).is_empty());
    }
}
