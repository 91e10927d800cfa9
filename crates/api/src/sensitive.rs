//! `Sensitive<T>` carries a secret (password, token) through the program. Invariant: its `Debug`
//! prints `<redacted>` and plain serialization fails, so a secret can only reach the wire through a
//! field that opts in with `#[serde(serialize_with = "Sensitive::expose")]`.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Clone, PartialEq, Eq, Default)]
pub struct Sensitive<T>(T);

impl<T> Sensitive<T> {
    pub fn new(value: T) -> Self {
        Self(value)
    }

    /// The secret itself; call sites are few and easy to audit.
    pub fn reveal(&self) -> &T {
        &self.0
    }

    pub fn into_inner(self) -> T {
        self.0
    }

    /// For wire fields that must carry the secret (a token response, a sign-in request).
    pub fn expose<S: Serializer>(value: &Self, serializer: S) -> Result<S::Ok, S::Error>
    where
        T: Serialize,
    {
        value.0.serialize(serializer)
    }

    /// [`Sensitive::expose`] for optional fields.
    pub fn expose_option<S: Serializer>(value: &Option<Self>, serializer: S) -> Result<S::Ok, S::Error>
    where
        T: Serialize,
    {
        match value {
            Some(v) => serializer.serialize_some(&v.0),
            None => serializer.serialize_none(),
        }
    }
}

impl<T> From<T> for Sensitive<T> {
    fn from(value: T) -> Self {
        Self(value)
    }
}

impl<T> std::fmt::Debug for Sensitive<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

impl<T> Serialize for Sensitive<T> {
    fn serialize<S: Serializer>(&self, _serializer: S) -> Result<S::Ok, S::Error> {
        Err(serde::ser::Error::custom("refusing to serialize a secret; use Sensitive::expose on a wire field"))
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Sensitive<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        T::deserialize(deserializer).map(Self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Wire {
        #[serde(serialize_with = "Sensitive::expose")]
        token: Sensitive<String>,
    }

    #[test]
    fn debug_never_prints_the_secret() {
        let s = Sensitive::new("hunter22hunter22".to_owned());
        assert_eq!(format!("{s:?}"), "<redacted>");
        assert!(!format!("{:?}", Some(&s)).contains("hunter"));
    }

    #[test]
    fn plain_serialization_is_refused() {
        let s = Sensitive::new("hunter22hunter22".to_owned());
        assert!(serde_json::to_string(&s).is_err(), "a secret must not serialize by accident");
    }

    #[test]
    fn opted_in_wire_fields_carry_the_secret() {
        let w = Wire { token: Sensitive::new("abc".into()) };
        assert_eq!(serde_json::to_string(&w).unwrap(), r#"{"token":"abc"}"#);
    }

    #[test]
    fn deserializes_transparently() {
        let s: Sensitive<String> = serde_json::from_str(r#""pw""#).unwrap();
        assert_eq!(s.reveal(), "pw");
    }
}
