mod my_counts;

pub use my_counts::*;
