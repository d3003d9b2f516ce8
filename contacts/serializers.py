from rest_framework import serializers

from contacts.models import Contact, Tag
from contacts.services import contact_get_by_email

DUPLICATE_EMAIL = "A contact with this email already exists."


class TagNamesField(serializers.ListField):
    """Tag names in, tag names out (from the contact's prefetched tags)."""

    def to_representation(self, data) -> list[str]:
        return [tag.name for tag in data.all()]


class ContactSerializer(serializers.ModelSerializer):
    tags = TagNamesField(
        child=serializers.CharField(max_length=Tag._meta.get_field("name").max_length),
        required=False,
        help_text="Tag names; on update, the complete new set.",
    )

    class Meta:
        model = Contact
        fields = [
            "id",
            "first_name",
            "last_name",
            "email",
            "phone",
            "tags",
            "owner",
            "origin",
            "created_at",
        ]
        read_only_fields = ["id", "owner", "origin", "created_at"]
        # The case-insensitive uniqueness is checked in validate_email with a field error.
        validators: list = []

    def validate_email(self, value: str) -> str:
        # Unique per owner: the contact's, or for a new one the user creating it.
        owner = self.instance.owner if self.instance else self.context["request"].user
        existing = contact_get_by_email(owner=owner, email=value)
        if existing is not None and existing != self.instance:
            raise serializers.ValidationError(DUPLICATE_EMAIL)
        return value

    def validate_tags(self, value: list[str]) -> list[str]:
        names = [name.strip() for name in value]
        if any(not name for name in names):
            raise serializers.ValidationError("A tag name cannot be blank.")
        return names

    def service_data(self) -> dict:
        return dict(self.validated_data)


class TagsSerializer(serializers.Serializer):
    tags = serializers.ListField(
        child=serializers.CharField(max_length=Tag._meta.get_field("name").max_length),
        allow_empty=False,
    )

    def validate_tags(self, value: list[str]) -> list[str]:
        names = [name.strip() for name in value]
        if any(not name for name in names):
            raise serializers.ValidationError("A tag name cannot be blank.")
        return names
