"""The web layer every stage's routes use: app keys, API helpers and the route table, the router,
the login guard (cookies, CSRF, bearer tokens), HTML templates and static files, OpenAPI."""
