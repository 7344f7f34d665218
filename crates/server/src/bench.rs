//! Load benchmark (to come).
