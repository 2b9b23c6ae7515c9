//! Channel plugins (inbox, email, webhook and push providers, MQTT) behind one
//! `Channel` trait. Plugins get a rendered message and an address and classify the
//! outcome; they know nothing about campaigns, rules or the database.
#![forbid(unsafe_code)]
