"""GraphiQL, as `make run` serves it, works in a real browser that can reach nothing but Bezel."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.support import BezelDev


def test_graphiql_runs_the_readme_query_offline(page: Page, bezel: BezelDev) -> None:
    page.goto(f"{bezel.url}/graphql")

    expect(page.locator(".graphiql-container")).to_be_visible()
    editor = page.locator(".graphiql-query-editor")
    expect(editor).to_contain_text('product(handle: "aurelia-solitaire-ring")')  # the README's query

    page.locator(".graphiql-execute-button").click()

    response = page.locator(".graphiql-response")
    expect(response).to_contain_text('"title": "Aurelia Solitaire Engagement Ring"')
