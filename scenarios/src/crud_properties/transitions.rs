//! The reference state machine for proptest-state-machine: the initial state, the calls that
//! may follow a state (generators weighted toward calls that build state), and the
//! precondition that keeps a shrunk sequence meaningful (every slot a call names exists).

use proptest::prelude::*;
use proptest::sample::select;
use proptest::strategy::Union;
use proptest_state_machine::ReferenceStateMachine;

use super::calls::{Call, Envelope, Kind, LoginPassword, OwnerInput, PageQuery, Password, Ref};
use super::inputs::{
    self, BAD_LIMITS, BAD_OFFSETS, DISPLAY_NAME_MAX, KINDS, LIMITS, LOCALIZATION_STATUSES, OFFSETS,
    TITLE_MAX, VIDEO_STATUSES,
};
use super::model::State;

/// The model of the API as a reference state machine.
pub struct CrudMachine;

impl ReferenceStateMachine for CrudMachine {
    type State = State;
    type Transition = Call;

    fn init_state() -> BoxedStrategy<State> {
        Just(State::default()).boxed()
    }

    fn transitions(state: &State) -> BoxedStrategy<Call> {
        let users = reference(state, Kind::User);
        let videos = reference(state, Kind::Video);
        let localizations = reference(state, Kind::Localization);

        let arms: Vec<(u32, BoxedStrategy<Call>)> = vec![
            (6, create_user()),
            (
                2,
                users
                    .clone()
                    .prop_map(|user| Call::GetUser { user })
                    .boxed(),
            ),
            (
                2,
                page_query()
                    .prop_map(|page| Call::ListUsers { page })
                    .boxed(),
            ),
            (3, update_user(users.clone())),
            (
                2,
                users
                    .clone()
                    .prop_map(|user| Call::DeleteUser { user })
                    .boxed(),
            ),
            (2, login(users.clone())),
            (5, create_video(users.clone())),
            (
                2,
                videos
                    .clone()
                    .prop_map(|video| Call::GetVideo { video })
                    .boxed(),
            ),
            (2, list_videos(users)),
            (4, update_video(videos.clone())),
            (
                2,
                videos
                    .clone()
                    .prop_map(|video| Call::DeleteVideo { video })
                    .boxed(),
            ),
            (4, create_localization(videos.clone())),
            (
                1,
                localizations
                    .clone()
                    .prop_map(|localization| Call::GetLocalization { localization })
                    .boxed(),
            ),
            (
                2,
                (videos, page_query())
                    .prop_map(|(video, page)| Call::ListLocalizations { video, page })
                    .boxed(),
            ),
            (3, update_localization(localizations.clone())),
            (
                2,
                localizations
                    .prop_map(|localization| Call::DeleteLocalization { localization })
                    .boxed(),
            ),
        ];
        Union::new_weighted(arms).boxed()
    }

    fn apply(state: State, call: &Call) -> State {
        state.apply(call)
    }

    fn preconditions(state: &State, call: &Call) -> bool {
        state.names_known_slots(call)
    }
}

/// Generates references to resources of `kind`: mostly existing ones, sometimes deleted ones,
/// and sometimes UUIDs that name nothing.
fn reference(state: &State, kind: Kind) -> BoxedStrategy<Ref> {
    let missing = any::<u128>().prop_map(Ref::Missing);
    let count = state.slots(kind);
    if count == 0 {
        return missing.boxed();
    }
    let alive: Vec<Ref> = (0..count)
        .map(Ref::Slot)
        .filter(|reference| state.is_alive(kind, *reference))
        .collect();
    let any_slot = (0..count).prop_map(Ref::Slot);
    if alive.is_empty() {
        prop_oneof![4 => any_slot, 1 => missing].boxed()
    } else {
        prop_oneof![12 => select(alive), 3 => any_slot, 1 => missing].boxed()
    }
}

fn envelope() -> BoxedStrategy<Envelope> {
    prop_oneof![
        24 => Just(Envelope::Valid),
        2 => Just(Envelope::JsonWithCharset),
        1 => Just(Envelope::WrongContentType),
        1 => Just(Envelope::MissingContentType),
        1 => Just(Envelope::Truncated),
        1 => Just(Envelope::LoneSurrogate),
        1 => Just(Envelope::UnknownField),
        1 => Just(Envelope::DuplicateKey),
        1 => Just(Envelope::NullValue),
        1 => Just(Envelope::NotAnObject),
        1 => Just(Envelope::MissingField),
    ]
    .boxed()
}

fn optional<T: std::fmt::Debug + Clone + 'static>(
    strategy: BoxedStrategy<T>,
) -> BoxedStrategy<Option<T>> {
    proptest::option::weighted(0.5, strategy).boxed()
}

fn password() -> BoxedStrategy<Password> {
    inputs::password().prop_map(Password).boxed()
}

fn page_query() -> BoxedStrategy<PageQuery> {
    (
        inputs::page_value(LIMITS, BAD_LIMITS),
        inputs::page_value(OFFSETS, BAD_OFFSETS),
        proptest::bool::weighted(0.05),
    )
        .prop_map(|(limit, offset, unknown_parameter)| PageQuery {
            limit,
            offset,
            unknown_parameter,
        })
        .boxed()
}

fn create_user() -> BoxedStrategy<Call> {
    (
        inputs::email(),
        inputs::text(DISPLAY_NAME_MAX),
        password(),
        envelope(),
    )
        .prop_map(
            |(email, display_name, password, envelope)| Call::CreateUser {
                email,
                display_name,
                password,
                envelope,
            },
        )
        .boxed()
}

fn update_user(users: BoxedStrategy<Ref>) -> BoxedStrategy<Call> {
    (
        users,
        optional(inputs::email()),
        optional(inputs::text(DISPLAY_NAME_MAX)),
        optional(password()),
        envelope(),
    )
        .prop_map(
            |(user, email, display_name, password, envelope)| Call::UpdateUser {
                user,
                email,
                display_name,
                password,
                envelope,
            },
        )
        .boxed()
}

fn login(users: BoxedStrategy<Ref>) -> BoxedStrategy<Call> {
    let password = prop_oneof![
        3 => Just(LoginPassword::Current),
        1 => password().prop_map(LoginPassword::Wrong),
    ];
    (users, inputs::case(), password, envelope())
        .prop_map(|(user, email_case, password, envelope)| Call::Login {
            user,
            email_case,
            password,
            envelope,
        })
        .boxed()
}

fn owner(users: BoxedStrategy<Ref>) -> BoxedStrategy<OwnerInput> {
    prop_oneof![
        12 => users.prop_map(OwnerInput::User),
        1 => Just(OwnerInput::NotUuid("not-a-uuid".to_owned())),
    ]
    .boxed()
}

fn create_video(users: BoxedStrategy<Ref>) -> BoxedStrategy<Call> {
    (
        owner(users),
        inputs::text(TITLE_MAX),
        inputs::tag(),
        inputs::duration(),
        inputs::enum_value(VIDEO_STATUSES, &["bogus", "Ready", ""]),
        envelope(),
    )
        .prop_map(
            |(owner, title, source_language, duration_seconds, status, envelope)| {
                Call::CreateVideo {
                    owner,
                    title,
                    source_language,
                    duration_seconds,
                    status,
                    envelope,
                }
            },
        )
        .boxed()
}

fn list_videos(users: BoxedStrategy<Ref>) -> BoxedStrategy<Call> {
    (optional(owner(users)), page_query())
        .prop_map(|(owner, page)| Call::ListVideos { owner, page })
        .boxed()
}

fn update_video(videos: BoxedStrategy<Ref>) -> BoxedStrategy<Call> {
    (
        videos,
        optional(inputs::text(TITLE_MAX)),
        optional(inputs::tag()),
        optional(inputs::duration()),
        inputs::enum_value(VIDEO_STATUSES, &["bogus", "Ready", ""]),
        envelope(),
    )
        .prop_map(
            |(video, title, source_language, duration_seconds, status, envelope)| {
                Call::UpdateVideo {
                    video,
                    title,
                    source_language,
                    duration_seconds,
                    status,
                    envelope,
                }
            },
        )
        .boxed()
}

fn kind() -> BoxedStrategy<String> {
    prop_oneof![
        6 => select(KINDS).prop_map(str::to_owned),
        1 => select(vec!["Subtitles", "captions", ""]).prop_map(str::to_owned),
    ]
    .boxed()
}

fn create_localization(videos: BoxedStrategy<Ref>) -> BoxedStrategy<Call> {
    (
        videos,
        inputs::tag(),
        kind(),
        inputs::enum_value(LOCALIZATION_STATUSES, &["in-progress", "DONE"]),
        envelope(),
    )
        .prop_map(
            |(video, target_language, kind, status, envelope)| Call::CreateLocalization {
                video,
                target_language,
                kind,
                status,
                envelope,
            },
        )
        .boxed()
}

fn update_localization(localizations: BoxedStrategy<Ref>) -> BoxedStrategy<Call> {
    (
        localizations,
        optional(inputs::tag()),
        optional(kind()),
        inputs::enum_value(LOCALIZATION_STATUSES, &["in-progress", "DONE"]),
        envelope(),
    )
        .prop_map(|(localization, target_language, kind, status, envelope)| {
            Call::UpdateLocalization {
                localization,
                target_language,
                kind,
                status,
                envelope,
            }
        })
        .boxed()
}

#[cfg(test)]
mod tests {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;

    use super::*;

    #[test]
    fn generated_sequences_satisfy_preconditions() {
        let strategy = CrudMachine::sequential_strategy(1..40);
        let mut runner = TestRunner::deterministic();

        for _ in 0..20 {
            let tree = strategy
                .new_tree(&mut runner)
                .expect("the strategy should generate a sequence");
            let (mut state, calls, _) = tree.current();
            for call in &calls {
                assert!(
                    CrudMachine::preconditions(&state, call),
                    "generated call names an unknown slot: {call:?}"
                );
                state = CrudMachine::apply(state, call);
            }
        }
    }

    #[test]
    fn generated_sequences_create_resources() {
        let strategy = CrudMachine::sequential_strategy(30..40);
        let mut runner = TestRunner::deterministic();
        let mut videos = 0;

        for _ in 0..20 {
            let tree = strategy
                .new_tree(&mut runner)
                .expect("the strategy should generate a sequence");
            let (mut state, calls, _) = tree.current();
            for call in &calls {
                state = CrudMachine::apply(state, call);
            }
            videos += state.videos.len();
        }

        assert!(
            videos > 0,
            "20 sequences of 30 or more calls should create at least one video"
        );
    }
}
