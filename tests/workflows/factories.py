import factory

from tests.calendars.factories import UserFactory
from workflows.models import Enrollment, StepRun, TriggerType, Workflow, WorkflowAction


class WorkflowFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Workflow

    name = factory.Sequence(lambda n: f"Workflow {n}")
    status = Workflow.Status.PUBLISHED
    trigger_type = TriggerType.MANUAL
    trigger_config = factory.LazyFunction(dict)
    created_by = factory.SubFactory(UserFactory)


class WorkflowActionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = WorkflowAction

    workflow = factory.SubFactory(WorkflowFactory)
    position = factory.Sequence(lambda n: n)
    key = factory.Sequence(lambda n: f"tag_{n}")
    type = "add_tag"
    config = factory.LazyFunction(lambda: {"tag": "vip"})


class EnrollmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Enrollment

    workflow = factory.SubFactory(WorkflowFactory)
    # One of the workflow owner's contacts: a workflow enrolls no one else's.
    contact = factory.SubFactory(
        "tests.contacts.factories.ContactFactory",
        owner=factory.SelfAttribute("..workflow.created_by"),
    )
    trigger_type = TriggerType.MANUAL
    actions = factory.LazyFunction(list)


class StepRunFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StepRun

    enrollment = factory.SubFactory(EnrollmentFactory)
    position = 0
    key = "tag"
    type = "add_tag"
