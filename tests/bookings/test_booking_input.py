"""BookingInputSerializer: the body of every public booking endpoint."""

from datetime import UTC, datetime

from bookings.serializers import BookingInputSerializer

GOOD = {
    "start": "2027-03-15T11:00:00+01:00",
    "name": " Ada Lovelace ",
    "email": "ada@example.com",
    "timezone": "Europe/Berlin",
}


def test_it_gives_the_service_its_keyword_arguments():
    serializer = BookingInputSerializer(data=GOOD)
    assert serializer.is_valid(), serializer.errors
    assert serializer.service_kwargs() == {
        "start": datetime(2027, 3, 15, 10, 0, tzinfo=UTC),
        "name": "Ada Lovelace",
        "email": "ada@example.com",
        "phone": "",
        "notes": "",
        "timezone": "Europe/Berlin",
        "consent": False,
    }


def test_it_binds_fresh_fields_to_each_instance():
    first, second = BookingInputSerializer(data=GOOD), BookingInputSerializer(data=GOOD)
    for name, field in first.fields.items():
        assert field is not second.fields[name]
        assert field.parent is first and second.fields[name].parent is second
        assert field.field_name == name
    # The class's declared fields stay unbound templates.
    assert all(f.parent is None for f in BookingInputSerializer._declared_fields.values())


def test_it_keeps_one_instances_errors_out_of_the_next():
    bad = BookingInputSerializer(
        data={**GOOD, "email": "nope", "name": "x" * 201, "start": "2027-03-15T11:00"}
    )
    assert not bad.is_valid()
    assert set(bad.errors) == {"email", "name", "start"}
    good = BookingInputSerializer(data=GOOD)
    assert good.is_valid(), good.errors


def test_it_refuses_a_missing_name_and_an_unknown_timezone():
    serializer = BookingInputSerializer(data={**GOOD, "name": "", "timezone": "Mars/Olympus"})
    assert not serializer.is_valid()
    assert set(serializer.errors) == {"name", "timezone"}
