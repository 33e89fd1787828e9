"""Cross-account private hosted zone association (runbook section 3)."""

from __future__ import annotations

from cdktf import TerraformProvider
from cdktf_cdktf_provider_aws.route53_vpc_association_authorization import Route53VpcAssociationAuthorization
from cdktf_cdktf_provider_aws.route53_zone_association import Route53ZoneAssociation
from constructs import Construct


class ZoneAssociation(Construct):
    """Authorize in the zone owner's account, associate in the VPC owner's.

    The association references the authorization's attributes, so Terraform
    creates the authorization first and destroys it last.

    Args:
        zone_id: the platform's private hosted zone.
        vpc_id: the project's VPC.
        vpc_region: the VPC's region.
        zone_owner: the provider of the zone's account (``None`` when the VPC
            is in the zone's own account: no authorization is needed then).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        zone_id: str,
        vpc_id: str,
        vpc_region: str,
        zone_owner: TerraformProvider | None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.authorization: Route53VpcAssociationAuthorization | None = None
        if zone_owner is not None:
            self.authorization = Route53VpcAssociationAuthorization(
                self, "authorization", provider=zone_owner, zone_id=zone_id, vpc_id=vpc_id, vpc_region=vpc_region
            )
            zone_id, vpc_id = self.authorization.zone_id, self.authorization.vpc_id
        self.association = Route53ZoneAssociation(
            self, "association", zone_id=zone_id, vpc_id=vpc_id, vpc_region=vpc_region
        )
