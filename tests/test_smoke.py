import pytest


@pytest.mark.django_db
def test_it_serves_the_ping_view(client):
    response = client.get("/api/ping/")
    assert response.status_code == 200
    assert response.json() == {"ok": True}


@pytest.mark.django_db
def test_it_answers_unknown_pages_with_the_product_404(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert b"Page not found" in response.content
