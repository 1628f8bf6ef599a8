//! Results: the JSON record, the table (markdown, CSV, terminal) and its statistics.

pub mod results;
pub mod stats;
pub mod table;
pub mod terminal;
