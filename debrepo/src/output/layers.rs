//! Per-spec image layers: each spec of an `extends` chain as the difference from its parent (being written).
