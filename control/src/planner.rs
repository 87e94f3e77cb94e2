//! Rebalance and drain planning: pure functions from "who owns what" to the slots to assign
//! or move. Slots are handed out in contiguous chunks so ownership stays a few ranges.

use std::collections::HashSet;

/// What a plan asks for: direct assignments (slots nobody holds data for) and migrations.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Plan {
    /// `(slot, node)`.
    pub assign: Vec<(u16, u16)>,
    /// `(slot, from, to)`.
    pub moves: Vec<(u16, u16, u16)>,
}

/// Plans an even spread (`total / n`, the remainder one each to the nodes already holding the
/// most) over the `live` nodes. `owners` is the ownership once the migrations in flight land;
/// `pinned` slots (in flight) never move. Unassigned slots are assigned directly; surplus moves
/// from the most loaded nodes (their highest slots) to the least loaded. Slots of nodes not in
/// `live` stay where they are.
pub fn rebalance(owners: &[Option<u16>], live: &[u16], pinned: &HashSet<u16>) -> Plan {
    if live.is_empty() {
        return Plan::default();
    }
    let mut slots_of: Vec<Vec<u16>> = vec![Vec::new(); live.len()];
    let mut unassigned = Vec::new();
    for (slot, owner) in owners.iter().enumerate() {
        match owner.and_then(|o| live.iter().position(|&l| l == o)) {
            Some(i) => slots_of[i].push(slot as u16),
            None if owner.is_none() => unassigned.push(slot as u16),
            None => {}
        }
    }
    let quota = quotas(&slots_of, unassigned.len());

    // Surplus slots, most loaded donor first, each donor giving its highest movable slots.
    let mut donors: Vec<usize> = (0..live.len())
        .filter(|&i| slots_of[i].len() > quota[i])
        .collect();
    donors.sort_by_key(|&i| (std::cmp::Reverse(slots_of[i].len() - quota[i]), i));
    let mut pool: Vec<(u16, u16)> = Vec::new();
    for &d in &donors {
        let surplus = slots_of[d].len() - quota[d];
        let mut give: Vec<u16> = slots_of[d]
            .iter()
            .rev()
            .filter(|s| !pinned.contains(s))
            .take(surplus)
            .copied()
            .collect();
        give.reverse();
        pool.extend(give.into_iter().map(|s| (s, live[d])));
    }

    // Receivers, largest deficit first: unassigned slots first, then the surplus pool.
    let mut receivers: Vec<(usize, usize)> = (0..live.len())
        .filter(|&i| slots_of[i].len() < quota[i])
        .map(|i| (i, quota[i] - slots_of[i].len()))
        .collect();
    receivers.sort_by_key(|&(i, d)| (std::cmp::Reverse(d), i));
    let mut plan = Plan::default();
    let mut unassigned = unassigned.into_iter();
    let mut pool = pool.into_iter();
    for (i, deficit) in receivers {
        let to = live[i];
        let mut need = deficit;
        for slot in unassigned.by_ref().take(need) {
            plan.assign.push((slot, to));
            need -= 1;
        }
        for (slot, from) in pool.by_ref().take(need) {
            plan.moves.push((slot, from, to));
        }
    }
    plan
}

/// Each live node's target count: an even share of what they hold plus `unassigned`, the
/// remainder going to the nodes holding the most already (fewest moves).
fn quotas(slots_of: &[Vec<u16>], unassigned: usize) -> Vec<usize> {
    let n = slots_of.len();
    let total: usize = slots_of.iter().map(Vec::len).sum::<usize>() + unassigned;
    let mut rank: Vec<usize> = (0..n).collect();
    rank.sort_by_key(|&i| (std::cmp::Reverse(slots_of[i].len()), i));
    let mut quota = vec![total / n; n];
    for &i in rank.iter().take(total % n) {
        quota[i] += 1;
    }
    quota
}

/// Spreads `slots` (ascending) over `receivers` so their counts even out, each receiver getting
/// one contiguous chunk: water-filling from the least loaded. `counts[i]` is receiver i's
/// current load. Returns `(slot, receiver)`.
pub fn spread(slots: &[u16], receivers: &[u16], counts: &[usize]) -> Vec<(u16, u16)> {
    if receivers.is_empty() {
        return Vec::new();
    }
    let mut load = counts.to_vec();
    let mut gets = vec![0usize; receivers.len()];
    for _ in slots {
        let i = (0..receivers.len())
            .min_by_key(|&i| (load[i], i))
            .expect("receivers is not empty");
        load[i] += 1;
        gets[i] += 1;
    }
    let mut out = Vec::with_capacity(slots.len());
    let mut rest = slots.iter();
    for (i, n) in gets.into_iter().enumerate() {
        out.extend(rest.by_ref().take(n).map(|&s| (s, receivers[i])));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use autocache_proto::slot::SLOT_COUNT;

    fn counts(owners: &[Option<u16>], plan: &Plan, nodes: u16) -> Vec<usize> {
        let mut owners = owners.to_vec();
        for &(s, n) in &plan.assign {
            owners[s as usize] = Some(n);
        }
        for &(s, from, to) in &plan.moves {
            assert_eq!(owners[s as usize], Some(from));
            owners[s as usize] = Some(to);
        }
        (0..nodes)
            .map(|n| owners.iter().filter(|o| **o == Some(n)).count())
            .collect()
    }

    #[test]
    fn empty_cluster_is_assigned_in_ranges() {
        let owners = vec![None; SLOT_COUNT];
        let plan = rebalance(&owners, &[0, 1, 2], &HashSet::new());
        assert!(plan.moves.is_empty());
        assert_eq!(counts(&owners, &plan, 3), vec![5462, 5461, 5461]);
        assert_eq!(plan.assign[0], (0, 0));
        assert_eq!(plan.assign[5461], (5461, 0));
        assert_eq!(plan.assign[5462], (5462, 1));
        assert_eq!(plan.assign[16383], (16383, 2));
    }

    #[test]
    fn new_node_takes_from_the_most_loaded() {
        let mut owners = vec![Some(0u16); SLOT_COUNT];
        owners[8192..].iter_mut().for_each(|o| *o = Some(1));
        let plan = rebalance(&owners, &[0, 1, 2], &HashSet::new());
        assert!(plan.assign.is_empty());
        assert_eq!(counts(&owners, &plan, 3), vec![5462, 5461, 5461]);
        // Node 0 keeps the extra slot (ties go to the lower index), so node 1 has the larger
        // surplus and gives first: its highest slots 13653..16383, then node 0's 5462..8191.
        assert_eq!(plan.moves.first(), Some(&(13653, 1, 2)));
        assert_eq!(plan.moves.last(), Some(&(8191, 0, 2)));
        assert_eq!(plan.moves.len(), 8192 - 5462 + 8192 - 5461);
    }

    #[test]
    fn balanced_cluster_plans_nothing() {
        let mut owners = vec![Some(0u16); SLOT_COUNT];
        owners[8192..].iter_mut().for_each(|o| *o = Some(1));
        assert_eq!(
            rebalance(&owners, &[0, 1], &HashSet::new()),
            Plan::default()
        );
    }

    #[test]
    fn pinned_slots_stay_and_dead_nodes_keep_theirs() {
        let mut owners = vec![Some(0u16); SLOT_COUNT];
        owners[..100].iter_mut().for_each(|o| *o = Some(5));
        let pinned: HashSet<u16> = [16383].into_iter().collect();
        let plan = rebalance(&owners, &[0, 1], &pinned);
        assert!(plan.moves.iter().all(|m| m.0 != 16383 && m.0 >= 100));
        assert_eq!(plan.moves.len(), (SLOT_COUNT - 100) / 2);
        assert_eq!(plan.moves.last(), Some(&(16382, 0, 1)));
    }

    #[test]
    fn spread_evens_out_in_chunks() {
        let slots: Vec<u16> = (0..10).collect();
        let got = spread(&slots, &[3, 4], &[5, 0]);
        // Receiver 4 catches up to 5 first, then they alternate: 3 gets 3, 4 gets 7.
        let to3: Vec<u16> = got.iter().filter(|g| g.1 == 3).map(|g| g.0).collect();
        let to4: Vec<u16> = got.iter().filter(|g| g.1 == 4).map(|g| g.0).collect();
        assert_eq!(to3, vec![0, 1, 2]);
        assert_eq!(to4, vec![3, 4, 5, 6, 7, 8, 9]);
    }
}
