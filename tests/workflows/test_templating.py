"""The custom-value templating module: pure, so tested exhaustively and without a database."""

import html
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workflows.templating import (
    MissingValue,
    Reference,
    TemplateError,
    contact_values,
    parse_references,
    placeholder,
    render,
    template_errors,
)

VALUES = {
    "contact": contact_values(
        first_name="Ada", last_name="Lovelace", email="ada@example.com", phone="+1 555 0100"
    ),
    "link": {"url": "https://example.com/l/abc/", "expires_at": "never", "calendar_name": "Intro"},
}
AVAILABLE = {namespace: frozenset(names) for namespace, names in VALUES.items()}

keys = st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True)
plain_text = st.text(alphabet=st.characters(blacklist_characters="{}"), max_size=80)


def test_it_substitutes_contact_values():
    assert render("Hi {{ contact.first_name }}!", VALUES) == "Hi Ada!"


def test_it_substitutes_action_outputs():
    assert render("Book: {{ link.url }}", VALUES) == "Book: https://example.com/l/abc/"


@pytest.mark.parametrize(
    "template",
    ["{{contact.email}}", "{{ contact.email }}", "{{   contact.email\t}}", "{{contact.email }}"],
)
def test_it_accepts_any_spacing_inside_the_braces(template):
    assert render(template, VALUES) == "ada@example.com"


def test_it_renders_full_name_from_first_and_last():
    assert render("{{ contact.full_name }}", VALUES) == "Ada Lovelace"


def test_it_refuses_an_empty_value_without_a_fallback():
    with pytest.raises(MissingValue, match=r"contact\.phone \}\} is empty"):
        render("[{{ contact.phone }}]", {"contact": {"phone": ""}})


def test_it_renders_an_empty_value_as_empty_only_with_an_explicit_empty_fallback():
    assert render('[{{ contact.phone | default: "" }}]', {"contact": {"phone": ""}}) == "[]"


def test_it_renders_the_fallback_of_an_empty_value():
    values = {"contact": {"first_name": ""}}
    assert render('Hi {{ contact.first_name | default: "there" }}!', values) == "Hi there!"


def test_it_renders_the_value_and_not_the_fallback_when_there_is_one():
    assert render('Hi {{ contact.first_name|default:"there" }}!', VALUES) == "Hi Ada!"


def test_it_renders_the_fallback_of_a_missing_value():
    assert render('{{ link.url | default: "(no link)" }}', {}) == "(no link)"


def test_it_escapes_a_fallback_in_html_like_a_value():
    rendered = render('{{ contact.first_name | default: "<b>&" }}', {}, escape_html=True)
    assert rendered == "&lt;b&gt;&amp;"


def test_it_never_expands_a_placeholder_written_in_a_fallback():
    template = '{{ contact.first_name | default: "{{ contact.email " }}'
    values = {"contact": {"first_name": "", "email": "secret@example.com"}}
    assert render(template, values) == "{{ contact.email "


@pytest.mark.parametrize(
    "template",
    [
        "{{ contact.first_name | upper }}",
        "{{ contact.first_name | default: there }}",
        "{{ contact.first_name | default: 'there' }}",
        '{{ contact.first_name | default: "a" | default: "b" }}',
        '{{ contact.first_name | default: "a" "b" }}',
        "{{ contact.first_name | default }}",
        '{{ contact.first_name | default: "say \\"hi\\"" }}',
    ],
)
def test_it_refuses_anything_but_one_default_with_one_quoted_literal(template):
    errors = template_errors(template, available=AVAILABLE)
    assert len(errors) == 1 and "is not a custom value" in errors[0]


def test_it_checks_the_value_behind_a_fallback_at_save():
    errors = template_errors('{{ contact.nickname | default: "x" }}', available=AVAILABLE)
    assert "has no value “nickname”" in errors[0]


def test_it_refuses_to_render_an_unknown_namespace():
    with pytest.raises(MissingValue) as excinfo:
        render("{{ email.subject }}", VALUES)
    assert excinfo.value.reference == Reference("email", "subject")


def test_it_refuses_to_render_an_unknown_output():
    with pytest.raises(MissingValue, match=r"\{\{ link\.token \}\}"):
        render("{{ link.token }}", VALUES)


def test_it_escapes_values_in_html():
    values = {"contact": {"first_name": '<script>alert("x")</script>&'}}
    rendered = render("<p>{{ contact.first_name }}</p>", values, escape_html=True)
    assert rendered == "<p>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;</p>"


def test_it_does_not_escape_values_in_plain_text():
    values = {"contact": {"first_name": "<b>Ada</b> & co"}}
    assert render("{{ contact.first_name }}", values) == "<b>Ada</b> & co"


def test_it_never_expands_a_placeholder_inside_a_value():
    values = {"contact": {"first_name": "{{ contact.email }}", "email": "secret@example.com"}}
    assert render("{{ contact.first_name }}", values) == "{{ contact.email }}"


@pytest.mark.parametrize(
    "template",
    [
        "{{ contact.first_name|upper }}",
        "{{ contact }}",
        "{{ contact.first_name.x }}",
        "{{ __import__('os').system('id') }}",
        "{{ contact.__class__ }}",
        "{{ Contact.Email }}",
        "{{ }}",
        "{{ link.url() }}",
        "{{ 1.x }}",
    ],
)
def test_it_refuses_anything_but_a_plain_reference(template):
    with pytest.raises(TemplateError, match="is not a custom value"):
        parse_references(template)


def test_it_refuses_to_render_a_malformed_placeholder_even_with_values():
    with pytest.raises(TemplateError):
        render("{{ contact.first_name }} {{ contact.email|safe }}", VALUES)


def test_it_leaves_django_template_tags_as_plain_text():
    template = "{% load static %}{% for x in y %}{{ contact.first_name }}{% endfor %}"
    assert render(template, VALUES) == "{% load static %}{% for x in y %}Ada{% endfor %}"


def test_it_leaves_a_lone_opening_brace_pair_as_text():
    assert render("a {{ b", VALUES) == "a {{ b"


def test_it_lists_references_in_order_with_duplicates():
    template = "{{ link.url }} {{ contact.email }} {{ link.url }}"
    assert parse_references(template) == [
        Reference("link", "url"),
        Reference("contact", "email"),
        Reference("link", "url"),
    ]


def test_it_finds_no_errors_when_every_value_is_available():
    assert template_errors("{{ contact.email }} {{ link.url }}", available=AVAILABLE) == []


def test_it_reports_an_action_that_is_not_earlier_in_the_workflow():
    errors = template_errors("{{ email.to }}", available=AVAILABLE)
    assert errors == [
        "{{ email.to }} refers to “email”, which is not the contact or an earlier action "
        "of this workflow."
    ]


def test_it_reports_an_unknown_output_with_the_available_ones():
    errors = template_errors("{{ link.token }}", available=AVAILABLE)
    assert errors == [
        "{{ link.token }}: “link” has no value “token” (available: calendar_name, expires_at, url)."
    ]


def test_it_reports_a_repeated_bad_reference_once():
    assert len(template_errors("{{ x.y }} {{ x.y }}", available=AVAILABLE)) == 1


def test_it_reports_a_malformed_placeholder_as_an_error():
    errors = template_errors("{{ contact.email|lower }}", available=AVAILABLE)
    assert len(errors) == 1
    assert "is not a custom value" in errors[0]


def test_it_formats_a_placeholder_the_way_the_picker_inserts_it():
    assert placeholder("link", "url") == "{{ link.url }}"


@given(plain_text)
def test_it_returns_text_without_placeholders_unchanged(text):
    assert parse_references(text) == []
    assert render(text, {}) == text
    assert render(text, {}, escape_html=True) == text


@given(keys, keys, st.text(min_size=1, max_size=40))
def test_it_round_trips_any_reference_and_value(namespace, name, value):
    template = placeholder(namespace, name)
    assert parse_references(template) == [Reference(namespace, name)]
    assert render(template, {namespace: {name: value}}) == value


@given(st.text(min_size=1, max_size=60))
def test_it_never_lets_a_value_inject_markup_into_html(value):
    rendered = render(
        "<p>{{ contact.first_name }}</p>", {"contact": {"first_name": value}}, escape_html=True
    )
    inner = rendered[len("<p>") : -len("</p>")]
    assert "<" not in inner and ">" not in inner and '"' not in inner
    assert html.unescape(inner) == value


@given(st.lists(st.tuples(plain_text, st.sampled_from(sorted(AVAILABLE["link"]))), max_size=5))
def test_it_substitutes_every_occurrence_and_keeps_the_text_between(parts):
    template = "".join(text + placeholder("link", name) for text, name in parts)
    expected = "".join(text + VALUES["link"][name] for text, name in parts)
    assert render(template, VALUES) == expected


@given(st.text(alphabet=string.printable, max_size=80))
def test_it_validates_exactly_what_it_can_render(template):
    errors = template_errors(template, available=AVAILABLE)
    if errors:
        with pytest.raises((TemplateError, MissingValue)):
            render(template, VALUES)
    else:
        render(template, VALUES)
