//! Software bills of materials (SPDX 2.3 and CycloneDX 1.6 JSON) of a built tree (being written).
