//! Reading request JSON the way the OpenAPI document describes it.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer};

/// An optional whole number. JSON Schema counts `72.0` as an integer, so the API does too;
/// `72.5`, or a number out of the field's range, is refused like any other bad value.
pub fn whole<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<i128>,
{
    let Some(number) = Option::<serde_json::Number>::deserialize(d)? else {
        return Ok(None);
    };
    let value = number
        .as_i64()
        .map(i128::from)
        .or_else(|| number.as_u64().map(i128::from))
        .or_else(|| {
            number
                .as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 1e30)
                .map(|f| f as i128)
        });
    value
        .and_then(|v| T::try_from(v).ok())
        .map(Some)
        .ok_or_else(|| D::Error::custom(format!("{number} is not a whole number in range")))
}

/// An optional JSON object. Serde would also read a struct from an array of its fields in
/// order (`[null, 5]`); the document says object, so only an object (or null) is taken.
pub fn object<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    match Option::<serde_json::Value>::deserialize(d)? {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(value @ serde_json::Value::Object(_)) => serde_json::from_value(value)
            .map(Some)
            .map_err(D::Error::custom),
        Some(_) => Err(D::Error::custom("expected an object")),
    }
}

/// A JSON request body: actix's `Json` (same size limit, content type and errors, from the
/// app's `JsonConfig`), except that the top level must be an object. Serde also reads a struct
/// from an array of its fields in order, so `["alice","secret"]` would log in; every body the
/// API takes is an object, so anything else is refused here, once for all handlers.
pub struct Json<T>(pub T);

impl<T> Json<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::ops::Deref for Json<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: serde::de::DeserializeOwned + 'static> actix_web::FromRequest for Json<T> {
    type Error = actix_web::Error;
    type Future = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(
        req: &actix_web::HttpRequest,
        payload: &mut actix_web::dev::Payload,
    ) -> Self::Future {
        let body = actix_web::web::Json::<serde_json::Value>::from_request(req, payload);
        Box::pin(async move { Ok(Json(from_object(body.await?.into_inner())?)) })
    }
}

/// `value` as a `T`, if it is an object.
pub fn from_object<T: serde::de::DeserializeOwned>(
    value: serde_json::Value,
) -> Result<T, crate::error::AppError> {
    use crate::error::AppError;
    if !value.is_object() {
        return Err(AppError::bad_request("err.body.not_object"));
    }
    serde_json::from_value(value).map_err(|_| AppError::bad_request("err.bad_json"))
}

#[cfg(test)]
mod tests {
    #[derive(serde::Deserialize)]
    struct Hours {
        #[serde(default, deserialize_with = "super::whole")]
        h: Option<u32>,
    }

    fn hours(json: &str) -> Option<Option<u32>> {
        serde_json::from_str::<Hours>(json).ok().map(|v| v.h)
    }

    #[test]
    fn whole_numbers_may_be_written_with_a_zero_fraction() {
        assert_eq!(hours(r#"{"h": 72}"#), Some(Some(72)));
        assert_eq!(hours(r#"{"h": 72.0}"#), Some(Some(72)));
        assert_eq!(hours(r#"{"h": null}"#), Some(None));
        assert_eq!(hours(r#"{}"#), Some(None));
        assert_eq!(hours(r#"{"h": 72.5}"#), None);
        assert_eq!(hours(r#"{"h": -1}"#), None);
        assert_eq!(hours(r#"{"h": 1e20}"#), None);
        assert_eq!(hours(r#"{"h": "72"}"#), None);
    }

    #[derive(serde::Deserialize)]
    struct Outer {
        #[serde(default, deserialize_with = "super::object")]
        inner: Option<Hours>,
    }

    #[test]
    fn an_object_field_takes_an_object_or_null_only() {
        let read = |json: &str| serde_json::from_str::<Outer>(json).map(|o| o.inner.map(|h| h.h));
        assert_eq!(read(r#"{"inner": {"h": 3}}"#).ok(), Some(Some(Some(3))));
        assert_eq!(read(r#"{"inner": null}"#).ok(), Some(None));
        assert_eq!(read(r#"{}"#).ok(), Some(None));
        assert!(read(r#"{"inner": [3]}"#).is_err());
        assert!(read(r#"{"inner": [null]}"#).is_err());
    }

    #[derive(Debug, serde::Deserialize, PartialEq)]
    struct Login {
        username: String,
        password: String,
    }

    #[test]
    fn a_body_is_an_object_never_an_array_of_fields() {
        let read = |json: &str| {
            super::from_object::<Login>(serde_json::from_str(json).expect("json"))
                .map_err(|e| e.key())
        };
        assert_eq!(
            read(r#"{"username":"a","password":"b"}"#),
            Ok(Login {
                username: "a".into(),
                password: "b".into()
            })
        );
        assert_eq!(read(r#"["a","b"]"#), Err("err.body.not_object"));
        assert_eq!(read("null"), Err("err.body.not_object"));
        assert_eq!(read("\"ab\""), Err("err.body.not_object"));
        assert_eq!(read(r#"{"username":"a"}"#), Err("err.bad_json"));
    }
}
