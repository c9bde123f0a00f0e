//! Path filters: dpkg's `path-exclude`/`path-include` for a spec (being written).
