use serde_json::json;

use crate::test_both_backends;

test_both_backends! {
    async fn a_service_token_registers_an_org_and_a_project(app: TestApp) {
        let (status, body) = app.put_org("acme", "Acme Corp").await;
        assert_eq!(status, 201);
        assert_eq!(body, json!({"id": "acme", "name": "Acme Corp"}));

        let (status, body) = app.put_org("acme", "Acme Corporation").await;
        assert_eq!(status, 200, "registering again renames");
        assert_eq!(body["name"], "Acme Corporation");

        let (status, body) = app.put_project("acme", "webshop", "Webshop").await;
        assert_eq!(status, 201);
        assert_eq!(body["id"], "webshop");
        assert_eq!(body["name"], "Webshop");

        let (status, _) = app.put_project("acme", "webshop", "Web shop").await;
        assert_eq!(status, 200);
    }
}

test_both_backends! {
    async fn a_project_of_an_unknown_org_is_404(app: TestApp) {
        let (status, body) = app.put_project("nobody", "webshop", "Webshop").await;
        assert_eq!(status, 404);
        assert_eq!(body["error"], "not_found");
    }
}

test_both_backends! {
    async fn the_same_project_slug_may_exist_in_two_orgs(app: TestApp) {
        app.put_org("acme", "Acme").await;
        app.put_org("globex", "Globex").await;
        assert_eq!(app.put_project("acme", "shop", "Shop").await.0, 201);
        assert_eq!(app.put_project("globex", "shop", "Shop").await.0, 201);
    }
}
