//! Prints the `AutoCacheCluster` CRD as YAML (`deploy/k8s/crd.yaml` is its checked-in output).

fn main() {
    print!("{}", autocache_control::operator::crd::crd_yaml());
}
