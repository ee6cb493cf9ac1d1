//! The harness library: starts Postgres and the LocalizeVideos app in containers,
//! and gives checks what they need to verify the data layer's rules.
//!
//! A [`run::Run`] owns one run's network and containers. Every resource carries the labels of
//! [`labels`], so [`cleanup`] and [`gc`] can remove what a crashed run left behind, and
//! [`image_prune`] removes old app images.

pub mod app;
pub mod app_image;
pub mod app_instance;
pub mod bootstrap;
pub mod check;
pub mod cleanup;
pub mod clone_pool;
pub mod config;
pub mod db_error;
pub mod deployment;
pub mod docker;
pub mod durability;
pub mod engine_address;
pub mod error;
pub mod fault;
pub mod gc;
pub mod http;
pub mod image_prune;
pub mod images;
pub mod labels;
pub mod ledger;
pub mod load;
pub mod lock;
pub mod logging;
pub mod logs;
pub mod migrate;
pub mod network;
pub mod owner;
pub mod pg_hba;
pub mod postgres;
pub mod progress;
pub mod redact;
pub mod report;
pub mod repro;
pub mod reset;
pub mod rotation;
pub mod run;
pub mod scan;
pub mod scratch;
pub mod secret;
pub mod signals;
mod superuser;
pub mod template;
pub mod topology;
