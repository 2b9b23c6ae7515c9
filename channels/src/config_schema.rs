//! [`ChannelConfig`]'s OpenAPI schema: one of the kinds' settings, told apart by the
//! `kind` discriminator that generated clients and forms switch on. Written out here
//! because the derive gives an internally tagged enum no discriminator: each kind's
//! settings become a named schema (`SmtpSettings`: the `SmtpConfig` fields and
//! `kind: "smtp"`) that the discriminator maps to.

use std::borrow::Cow;

use utoipa::openapi::schema::{Discriminator, ObjectBuilder, OneOfBuilder, Schema, Type};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{PartialSchema, ToSchema};

use crate::apns::ApnsConfig;
use crate::config::ChannelConfig;
use crate::email::SmtpConfig;
use crate::fcm::FcmConfig;
use crate::jpush::JpushConfig;
use crate::mqtt::MqttConfig;
use crate::webhook::WebhookConfig;

type Schemas = Vec<(String, RefOr<Schema>)>;

/// Adds a kind's settings schema, named by its second argument and tagged by its first.
type AddSettings = fn(&str, &str, &mut Schemas);

/// Each kind's tag, the name of its settings' schema, and a function adding that
/// schema (with the ones it refers to) to a document's.
const KINDS: [(&str, &str, AddSettings); 6] = [
    ("smtp", "SmtpSettings", add::<SmtpConfig>),
    ("webhook", "WebhookSettings", add::<WebhookConfig>),
    ("fcm", "FcmSettings", add::<FcmConfig>),
    ("apns", "ApnsSettings", add::<ApnsConfig>),
    ("jpush", "JpushSettings", add::<JpushConfig>),
    ("mqtt", "MqttSettings", add::<MqttConfig>),
];

/// `name`: `T`'s fields and `kind` fixed to `tag` (one object: the kinds' settings
/// refuse unknown fields, which an `allOf` of the two would make `kind`); and the
/// schemas `T` refers to.
fn add<T: ToSchema>(tag: &str, name: &str, schemas: &mut Schemas) {
    let RefOr::T(Schema::Object(mut settings)) = T::schema() else {
        unreachable!("a plugin's settings are an object");
    };
    let kind = ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some([tag]))
        .build();
    settings
        .properties
        .insert("kind".to_owned(), RefOr::T(Schema::Object(kind)));
    settings.required.insert(0, "kind".to_owned());
    schemas.push((name.to_owned(), RefOr::T(Schema::Object(settings))));
    T::schemas(schemas);
}

impl PartialSchema for ChannelConfig {
    fn schema() -> RefOr<Schema> {
        let mut discriminator = Discriminator::new("kind");
        let mut one_of = OneOfBuilder::new().description(Some(
            "The settings of one channel instance, one schema per plugin kind, told apart \
             by `kind`. Secrets are write-only.",
        ));
        for (tag, name, _) in KINDS {
            discriminator
                .mapping
                .insert(tag.to_owned(), format!("#/components/schemas/{name}"));
            one_of = one_of.item(Ref::from_schema_name(name));
        }
        RefOr::T(Schema::OneOf(
            one_of.discriminator(Some(discriminator)).build(),
        ))
    }
}

impl ToSchema for ChannelConfig {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("ChannelConfig")
    }

    fn schemas(schemas: &mut Schemas) {
        for (tag, name, add) in KINDS {
            add(tag, name, schemas);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_is_one_of_the_settings_and_mapped_by_its_tag() {
        let RefOr::T(Schema::OneOf(one_of)) = ChannelConfig::schema() else {
            panic!("a oneOf");
        };
        assert_eq!(one_of.items.len(), crate::PluginKind::ALL.len());
        let discriminator = one_of.discriminator.expect("a discriminator");
        assert_eq!(discriminator.property_name, "kind");
        for kind in crate::PluginKind::ALL {
            assert!(
                discriminator.mapping.contains_key(kind.as_str()),
                "{kind} is mapped"
            );
        }
        let mut schemas = Schemas::new();
        ChannelConfig::schemas(&mut schemas);
        let names: Vec<&str> = schemas.iter().map(|(name, _)| name.as_str()).collect();
        for name in ["SmtpSettings", "SmtpSecurity", "HttpSettings"] {
            assert!(names.contains(&name), "{name} in {names:?}");
        }
    }
}
