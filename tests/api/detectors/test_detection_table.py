"""Every fixture: which source it is detected as, which event, and what it records."""

from __future__ import annotations

import pytest

from tests.api.detectors.factories import all_fixture_names, delivery

# fixture → (source, event, [(change_type, summary)], number of skip reasons)
EXPECTED: dict[str, tuple[str, str, list[tuple[str, str]], int]] = {
    "aws/cloudtrail-log-file": (
        "aws_cloudtrail",
        "cloudtrail:Records[12]",
        [
            ("deployment", "Lambda UpdateFunctionCode invoice-renderer"),
            ("config_change", "Lambda UpdateFunctionConfiguration invoice-renderer"),
            ("scaling", "Auto Scaling SetDesiredCapacity web-asg"),
            ("config_change", "Auto Scaling UpdateAutoScalingGroup web-asg"),
            ("infrastructure", "EC2 RunInstances i-0a1b2c3d4e5f60718"),
            ("scaling", "RDS ModifyDBInstance orders-db"),
            ("config_change", "SSM PutParameter /payments/prod/ACQUIRER_TIMEOUT"),
            ("config_change", "IAM AttachRolePolicy payments-task"),
            ("config_change", "S3 PutBucketPolicy acme-invoices"),
        ],
        3,
    ),
    "aws/eventbridge-cloudtrail-ecs-updateservice": (
        "aws_cloudtrail",
        "ecs:UpdateService",
        [("deployment", "ECS UpdateService payments-api")],
        0,
    ),
    "aws/eventbridge-codedeploy-success": (
        "aws_cloudtrail",
        "aws.codedeploy:CodeDeploy Deployment State-change Notification",
        [("deployment", "CodeDeploy d-7QX3K2B1A of billing/prod succeeded")],
        0,
    ),
    "aws/eventbridge-codepipeline-succeeded": (
        "aws_cloudtrail",
        "aws.codepipeline:CodePipeline Pipeline Execution State Change",
        [("deployment", "CodePipeline storefront-release execution succeeded")],
        0,
    ),
    "aws/eventbridge-ecs-deployment-completed": (
        "aws_cloudtrail",
        "aws.ecs:ECS Deployment State Change",
        [("deployment", "ECS deployment of prod/payments-api completed")],
        0,
    ),
    "aws/eventbridge-ecs-deployment-rollback": (
        "aws_cloudtrail",
        "aws.ecs:ECS Deployment State Change",
        [("rollback", "ECS circuit breaker rolls back prod/payments-api")],
        0,
    ),
    "aws/sns-notification-eventbridge": (
        "aws_cloudtrail",
        "lambda:UpdateAlias",
        [("deployment", "Lambda UpdateAlias checkout-api")],
        0,
    ),
    "aws/sns-subscription-confirmation": ("aws_cloudtrail", "sns:SubscriptionConfirmation", [], 1),
    "azure/common-alert-activity-log-slot-swap": (
        "azure_monitor",
        "alert:Activity Log - Administrative",
        [("deployment", "Swap slots of Microsoft.Web/sites/slots payments-web/staging")],
        0,
    ),
    "azure/common-alert-metric-fired": ("azure_monitor", "alert:Platform", [], 1),
    "azure/eventgrid-resource-events": (
        "azure_monitor",
        "eventgrid[4]",
        [
            (
                "config_change",
                "Create or update Microsoft.Web/sites/config payments-web/appsettings",
            ),
            ("infrastructure", "Delete Microsoft.Cache/redis session-cache"),
            ("infrastructure", "Restart Microsoft.Web/sites payments-web"),
        ],
        1,
    ),
    "azure/eventgrid-subscription-validation": (
        "azure_monitor",
        "Microsoft.EventGrid.SubscriptionValidationEvent",
        [],
        1,
    ),
    "azure/legacy-activity-log-alert-vmss-delete": (
        "azure_monitor",
        "Microsoft.Compute/virtualMachineScaleSets/delete",
        [("infrastructure", "Delete Microsoft.Compute/virtualMachineScaleSets batch-workers")],
        0,
    ),
    "gcp/cloudevent-run-replaceservice": (
        "gcp_audit_logs",
        "google.cloud.run.v1.Services.ReplaceService",
        [("deployment", "Cloud Run ReplaceService checkout-api")],
        0,
    ),
    "gcp/eventarc-binary-gke-createnodepool": (
        "gcp_audit_logs",
        "google.container.v1.ClusterManager.CreateNodePool",
        [("infrastructure", "GKE CreateNodePool gpu-pool")],
        0,
    ),
    "gcp/logentry-compute-insert-first": ("gcp_audit_logs", "v1.compute.instances.insert", [], 1),
    "gcp/logentry-data-access": ("gcp_audit_logs", "storage.objects.get", [], 1),
    "gcp/logentry-functions-updatefunction": (
        "gcp_audit_logs",
        "google.cloud.functions.v2.FunctionService.UpdateFunction",
        [("deployment", "Cloud Functions UpdateFunction invoice-mailer")],
        0,
    ),
    "gcp/logentry-gke-setnodepoolsize": (
        "gcp_audit_logs",
        "google.container.v1.ClusterManager.SetNodePoolSize",
        [("scaling", "GKE SetNodePoolSize default-pool")],
        0,
    ),
    "gcp/logentry-iam-setiampolicy": (
        "gcp_audit_logs",
        "google.iam.admin.v1.SetIAMPolicy",
        [("config_change", "IAM SetIAMPolicy checkout@acme-prod.iam.gserviceaccount.com")],
        0,
    ),
    "gcp/logentry-run-replaceservice": (
        "gcp_audit_logs",
        "google.cloud.run.v1.Services.ReplaceService",
        [("deployment", "Cloud Run ReplaceService checkout-api")],
        0,
    ),
    "gcp/pubsub-push-logsink-compute-resize": (
        "gcp_audit_logs",
        "v1.compute.instanceGroupManagers.resize",
        [("scaling", "Compute Engine instanceGroupManagers.resize web-mig")],
        0,
    ),
    "generic/statuspage-style": (
        "webhook",
        "unrecognised",
        [("other", "Feature 'one-click-refunds' enabled for 25% of users")],
        0,
    ),
    "github/deployment": (
        "github",
        "deployment",
        [("deployment", "Deploy acme/payments-api main@e4d1b8a to production")],
        0,
    ),
    "github/deployment_status-in_progress": ("github", "deployment_status", [], 1),
    "github/deployment_status-success": (
        "github",
        "deployment_status",
        [("deployment", "Deployed acme/payments-api main@e4d1b8a to production: succeeded")],
        0,
    ),
    "github/ping": ("github", "ping", [], 1),
    "github/pull_request-merged": (
        "github",
        "pull_request",
        [("code", "Merge #318 into acme/payments-api@main: Raise the acquirer timeout to 8s")],
        0,
    ),
    "github/push-branch-deleted": ("github", "push", [], 1),
    "github/push": (
        "github",
        "push",
        [("code", "Push 2 commits to acme/payments-api@main: Raise the acquirer timeout to 8s")],
        0,
    ),
    "github/release-published": (
        "github",
        "release",
        [("deployment", "Release acme/payments-api v2.14.0: v2.14.0 — acquirer retries")],
        0,
    ),
    "github/workflow_run-deploy-completed": (
        "github",
        "workflow_run",
        [("deployment", "deploy #412 succeeded for acme/payments-api@main")],
        0,
    ),
    "gitlab/deployment-success": (
        "gitlab",
        "deployment",
        [
            (
                "deployment",
                "Deploy shop/checkout-web@c81e728 to production: succeeded "
                "(Show VAT line for EU carts)",
            )
        ],
        0,
    ),
    "gitlab/feature_flag": (
        "gitlab",
        "feature_flag",
        [("feature_flag", "Feature flag new_vat_line turned on in shop/checkout-web")],
        0,
    ),
    "gitlab/merge_request-merged": (
        "gitlab",
        "merge_request",
        [("code", "Merge !57 into shop/checkout-web@main: Show VAT line for EU carts")],
        0,
    ),
    "gitlab/pipeline-deploy-success": (
        "gitlab",
        "pipeline",
        [
            (
                "deployment",
                "Pipeline 771204 deployed shop/checkout-web@main to production: succeeded",
            )
        ],
        0,
    ),
    "gitlab/push": (
        "gitlab",
        "push",
        [("code", "Push 2 commits to shop/checkout-web@main: Show VAT line for EU carts")],
        0,
    ),
    "gitlab/release-create": (
        "gitlab",
        "release",
        [("deployment", "Release shop/checkout-web v5.2.0: Checkout 5.2.0")],
        0,
    ),
    "gitlab/tag_push": (
        "gitlab",
        "tag_push",
        [("code", "Tag v5.2.0 pushed to shop/checkout-web")],
        0,
    ),
    "native/own-format-change": (
        "jenkins",
        "change",
        [("deployment", "Deploy ledger 3.8.1 to production")],
        0,
    ),
}


def test_every_fixture_has_an_expectation() -> None:
    assert sorted(EXPECTED) == all_fixture_names()


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_is_detected_and_mapped_as_documented(name: str) -> None:
    source, event, changes, skipped = EXPECTED[name]

    detection = delivery(name).detect()

    assert (detection.source, detection.event) == (source, event)
    assert [(c.change_type.value, c.summary) for c in detection.changes] == changes
    assert len(detection.skipped) == skipped


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_recorded_change_has_an_external_id_and_the_detected_source(name: str) -> None:
    detection = delivery(name).detect()

    assert all(change.external_id for change in detection.changes)
    assert all(change.source == detection.source for change in detection.changes)


@pytest.mark.parametrize(
    "name",
    [n for n in sorted(EXPECTED) if not n.startswith(("generic/", "native/", "azure/eventgrid"))],
)
def test_provider_payloads_are_recognised_by_shape_when_headers_are_missing(name: str) -> None:
    with_headers = delivery(name).detect()

    without_headers = delivery(name).without_headers().detect()

    assert without_headers.source == with_headers.source
    assert [(c.change_type, c.summary) for c in without_headers.changes] == [
        (c.change_type, c.summary) for c in with_headers.changes
    ]
