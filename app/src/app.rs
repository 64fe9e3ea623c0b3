use crate::api::auth::{CreateFirstAdmin, Login, Logout, current_user};
use crate::components::nav::Nav;
use crate::domain::User;
use crate::error::ApiError;
use crate::pages::{
    AccountPage, AdminPage, ApiKeysPage, ChatPage, ChatStartPage, ComparisonsPage, DatasetsPage,
    DemonstrationPage, DoubtfulRankingsPage, FeedbackPage, FilterPage, GuidelinesPage, HomePage,
    LeaderboardPage, LoginPage, ModelPage, MyWorkPage, NotFound, ProgressPage, RankPage, ReviewPage,
    RewardPage, SetupPage, StatsPage, WritePage,
};
use leptos::prelude::*;
use leptos_meta::{MetaTags, Title, provide_meta_context};
use leptos_router::SsrMode;
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{Lazy, StaticSegment, path};

/// Parley's icon: two speech bubbles in the accent colour, as an SVG data URI.
pub const FAVICON: &str = "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 32 32'%3E\
%3Crect x='2' y='4' width='20' height='14' rx='4' fill='%232f5bd3'/%3E\
%3Cpath d='M7 18v6l6-6z' fill='%232f5bd3'/%3E\
%3Crect x='12' y='12' width='18' height='12' rx='4' fill='%2311a37f'/%3E\
%3Cpath d='M25 24v5l-5-5z' fill='%2311a37f'/%3E%3C/svg%3E";

pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                // The icon travels in the page: no request, no 404.
                <link rel="icon" type="image/svg+xml" href=FAVICON />
                // In the shell, not in the hydrated app: the name comes from the server.
                <link rel="stylesheet" href=style_href() />
                <AutoReload options=options.clone() />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// The style sheet's address: the server's (a content-hashed name) where it runs, else
/// the name `cargo leptos build` gives it.
fn style_href() -> String {
    #[cfg(feature = "ssr")]
    if let Some(state) = use_context::<crate::ssr::AppState>() {
        return state.style_href.to_string();
    }
    "/pkg/parley.css".to_string()
}

/// Marks the page interactive (`data-hydrated` on the body), which the browser tests and
/// `make bench-pages` wait for before they click. Called by each page, not by `App`: a page's
/// group loads after `App` hydrates, and a click before its view hydrates would be lost. Effects
/// run only in the browser, after the view that made them.
pub fn mark_hydrated() {
    Effect::new(move |_| {
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "true");
        }
    });
}

/// Pages load in groups: in the browser each group's code is a wasm module of its own,
/// which the bundle fetches when one of its pages first opens (a page the server renders
/// names the modules it needs, for the browser to preload), so a first visit moves the part
/// every page needs and its own group's part only. Groups rather than single pages: code
/// that several groups share becomes modules of its own, one per set of groups that shares
/// it, which for 24 single pages made 616 small files. `scripts/build.sh` splits the bundle.
///
/// One table says it all: each group's lazy function (with the preload function `#[lazy]`
/// makes beside it in the browser build) and its pages, each a route type, a variant of
/// `Page` that tells the group's function which page to render, and the page's component.
/// A route's `preload` loads its group's modules: the router awaits it before it hydrates a
/// page the server rendered, so that the view is there at once (else hydration finds the
/// server's HTML where it expects the placeholder of a view still loading).
macro_rules! page_groups {
    ($($group:ident $preload:ident { $($route:ident: $page:ident => $component:ident,)* })*) => {
        #[derive(Clone, Copy)]
        enum Page {
            $($($page,)*)*
        }

        $(
            #[leptos::lazy]
            fn $group(page: Page) -> AnyView {
                mark_hydrated();
                match page {
                    $(Page::$page => view! { <$component /> }.into_any(),)*
                    #[allow(unreachable_patterns)]
                    _ => unreachable!("a page routed to another group's function"),
                }
            }

            $(
                pub struct $route;

                impl leptos_router::LazyRoute for $route {
                    fn data() -> Self {
                        $route
                    }

                    async fn view(_this: Self) -> AnyView {
                        $group(Page::$page).await
                    }

                    async fn preload() {
                        #[cfg(target_arch = "wasm32")]
                        $preload().await;
                    }
                }
            )*
        )*
    };
}

page_groups! {
    // Signing in and one's account.
    entry_pages __preload_entry_pages {
        HomeRoute: Home => HomePage,
        LoginRoute: Login => LoginPage,
        SetupRoute: Setup => SetupPage,
        AccountRoute: Account => AccountPage,
    }
    // Writing demonstrations and chatting with the model.
    write_pages __preload_write_pages {
        WriteRoute: Write => WritePage,
        DemonstrationRoute: Demonstration => DemonstrationPage,
        ChatStartRoute: ChatStart => ChatStartPage,
        ChatRoute: Chat => ChatPage,
    }
    // Ranking comparisons and one's own work.
    rank_pages __preload_rank_pages {
        MyWorkRoute: MyWork => MyWorkPage,
        RankRoute: Rank => RankPage,
    }
    // Reviewers' queues and feedback.
    review_pages __preload_review_pages {
        ReviewRoute: Review => ReviewPage,
        DoubtfulRankingsRoute: DoubtfulRankings => DoubtfulRankingsPage,
        FeedbackRoute: Feedback => FeedbackPage,
    }
    // The figures: quality, progress, leaderboard.
    figure_pages __preload_figure_pages {
        StatsRoute: Stats => StatsPage,
        ProgressRoute: Progress => ProgressPage,
        LeaderboardRoute: Leaderboard => LeaderboardPage,
    }
    // The admin's pages.
    admin_pages __preload_admin_pages {
        AdminRoute: Admin => AdminPage,
        ModelRoute: Model => ModelPage,
        ApiKeysRoute: ApiKeys => ApiKeysPage,
        GuidelinesRoute: Guidelines => GuidelinesPage,
        ComparisonsRoute: Comparisons => ComparisonsPage,
        FilterRoute: Filter => FilterPage,
        RewardRoute: Reward => RewardPage,
        DatasetsRoute: Datasets => DatasetsPage,
    }
}

/// Who is signed in, and the actions that change it. The user resource refetches whenever
/// one of the actions completes, so the navigation follows sign-in and sign-out.
#[derive(Clone, Copy)]
pub struct Session {
    pub user: Resource<Result<Option<User>, ApiError>>,
    pub login: ServerAction<Login>,
    pub logout: ServerAction<Logout>,
    pub setup: ServerAction<CreateFirstAdmin>,
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    let login = ServerAction::<Login>::new();
    let logout = ServerAction::<Logout>::new();
    let setup = ServerAction::<CreateFirstAdmin>::new();
    let user = Resource::new(
        move || (login.version().get(), logout.version().get(), setup.version().get()),
        |_| current_user(),
    );
    provide_context(Session { user, login, logout, setup });

    view! {
        <Title text="Parley" />
        <Router>
            <Nav />
            <main>
                <Routes fallback=NotFound>
                    <Route path=StaticSegment("") view={Lazy::<HomeRoute>::new()} />
                    <Route path=path!("/login") view={Lazy::<LoginRoute>::new()} />
                    <Route path=path!("/setup") view={Lazy::<SetupRoute>::new()} />
                    <Route path=path!("/account") view={Lazy::<AccountRoute>::new()} />
                    <Route path=path!("/admin") view={Lazy::<AdminRoute>::new()} />
                    <Route path=path!("/admin/model") view={Lazy::<ModelRoute>::new()} />
                    <Route path=path!("/admin/keys") view={Lazy::<ApiKeysRoute>::new()} />
                    <Route path=path!("/write") view={Lazy::<WriteRoute>::new()} />
                    <Route path=path!("/write/:id") view={Lazy::<DemonstrationRoute>::new()} />
                    <Route path=path!("/admin/guidelines") view={Lazy::<GuidelinesRoute>::new()} />
                    <Route path=path!("/chat") view={Lazy::<ChatStartRoute>::new()} />
                    <Route path=path!("/chat/:id") view={Lazy::<ChatRoute>::new()} />
                    <Route path=path!("/mine") view={Lazy::<MyWorkRoute>::new()} />
                    <Route path=path!("/rank") view={Lazy::<RankRoute>::new()} />
                    <Route path=path!("/rank/:id") view={Lazy::<RankRoute>::new()} />
                    <Route path=path!("/admin/comparisons") view={Lazy::<ComparisonsRoute>::new()} />
                    <Route path=path!("/admin/filter") view={Lazy::<FilterRoute>::new()} />
                    <Route path=path!("/admin/reward") view={Lazy::<RewardRoute>::new()} />
                    <Route path=path!("/feedback") view={Lazy::<FeedbackRoute>::new()} />
                    <Route path=path!("/review") view={Lazy::<ReviewRoute>::new()} />
                    <Route path=path!("/review/rankings") view={Lazy::<DoubtfulRankingsRoute>::new()} />
                    <Route path=path!("/datasets") view={Lazy::<DatasetsRoute>::new()} />
                    // Rendered whole before it is sent, so the charts read without JavaScript.
                    <Route path=path!("/stats") view={Lazy::<StatsRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/progress") view={Lazy::<ProgressRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/progress/:id") view={Lazy::<ProgressRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/leaderboard") view={Lazy::<LeaderboardRoute>::new()} ssr=SsrMode::Async />
                </Routes>
            </main>
        </Router>
    }
}
