//! Parser tests: the reference examples, every rule good and bad, the
//! round-trip properties.
#![forbid(unsafe_code)]
