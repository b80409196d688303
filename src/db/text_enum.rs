//! State columns as types: `TEXT` columns holding an enum's `as_str()` on both backends.
//! A stored value that does not parse is a deserialization error, never a default: a
//! corrupt row must not quietly restart a lifecycle. It is logged and counted too
//! ([`super::unreadable`]).
//!
//! The domain's state types are stored through the impls invoked here, so `domain` needs
//! nothing from `db` (the column types of `db/models` invoke it beside their own enums).

/// Implements `ToSql<Text>`/`FromSql<Text>` for every backend (SQLite, PostgreSQL and the
/// multi-connection backend) for a type with `fn as_str(self) -> &'static str` and
/// `fn parse(&str) -> Option<Self>`.
macro_rules! text_enum {
    ($ty:ty) => {
        impl<DB> diesel::serialize::ToSql<diesel::sql_types::Text, DB> for $ty
        where
            DB: diesel::backend::Backend,
            str: diesel::serialize::ToSql<diesel::sql_types::Text, DB>,
        {
            fn to_sql<'b>(
                &'b self,
                out: &mut diesel::serialize::Output<'b, '_, DB>,
            ) -> diesel::serialize::Result {
                <str as diesel::serialize::ToSql<diesel::sql_types::Text, DB>>::to_sql(
                    self.as_str(),
                    out,
                )
            }
        }

        impl<DB> diesel::deserialize::FromSql<diesel::sql_types::Text, DB> for $ty
        where
            DB: diesel::backend::Backend,
            String: diesel::deserialize::FromSql<diesel::sql_types::Text, DB>,
        {
            fn from_sql(bytes: DB::RawValue<'_>) -> diesel::deserialize::Result<Self> {
                let raw: String =
                    diesel::deserialize::FromSql::<diesel::sql_types::Text, DB>::from_sql(bytes)?;
                <$ty>::parse(&raw).ok_or_else(|| {
                    let error = format!(concat!("not a valid ", stringify!($ty), ": {:?}"), raw);
                    $crate::db::unreadable::note_unreadable(stringify!($ty), &error);
                    error.into()
                })
            }
        }
    };
}

pub(crate) use text_enum;

text_enum!(crate::domain::lifecycle::LoadTestState);
text_enum!(crate::domain::monitoring::Health);
text_enum!(crate::domain::settings::IntegrationStatus);
text_enum!(crate::domain::access::Role);
text_enum!(crate::domain::ids::SubjectKind);
text_enum!(crate::domain::delivery_status::DeliveryStatus);
text_enum!(crate::domain::quiet::DuringLoadTests);
text_enum!(crate::domain::report::Metric);

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use diesel::prelude::*;
    use diesel::sql_types::Text;

    use crate::db::unreadable::unreadable_count;
    use crate::domain::settings::IntegrationStatus;

    fn read(conn: &mut SqliteConnection, stored: &str) -> QueryResult<IntegrationStatus> {
        diesel::select(diesel::dsl::sql::<Text>("").bind::<Text, _>(stored)).get_result(conn)
    }

    #[test]
    fn an_unknown_stored_state_is_an_error_and_counted_never_a_default() {
        let mut conn = SqliteConnection::establish(":memory:").unwrap();
        assert_eq!(
            read(&mut conn, "active").unwrap(),
            IntegrationStatus::Active
        );
        assert_eq!(
            read(&mut conn, "revoked").unwrap(),
            IntegrationStatus::Revoked
        );
        let before = unreadable_count();
        assert!(read(&mut conn, "activ").is_err());
        assert!(unreadable_count() > before);
    }
}
