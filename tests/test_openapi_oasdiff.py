"""oasdiff's own test data as an external suite: 249 spec pairs and what oasdiff's Go tests expect.

Each oasdiff rule id maps to the canary-lint rule that covers it (or None: a policy id such as sunset
dates and stability levels, a non-breaking change, or a sub-schema keyword such as `then`, `prefixItems`,
`propertyNames` or `unevaluatedProperties` whose changes we compare inside it and report under the rule of
the inner change: CLA110, CLA112, CLA114, ...). A case
agrees when
  - every expected id that maps to a rule is reported by that rule, at error for oasdiff ERR ids and
    for security additions (our policy), at least at warning for WARN ids;
  - a case where oasdiff asserts no findings from all checks gets no error from us, and one that ran a
    single check gets none of the rules that check's ids map to;
  - ids oasdiff asserts absent (and that map to a rule no expected id maps to) are not reported.
Cases whose expected ids all map to None are counted as "policy" and must carry no error from us when
oasdiff ran all checks. The agreement is printed (pytest -s) and held above a floor.
"""

from __future__ import annotations

import csv
import json
import os
from collections import Counter
from pathlib import Path

import pytest

from canary_lint.config import Config
from canary_lint.context import ReleaseContext
from canary_lint.model import Severity
from canary_lint.openapi.analyzer import _disk_reader, _inside, compare_specs, load_spec
from canary_lint.registry import registry

ROOT = Path(__file__).resolve().parent.parent
# oasdiff's own spec pairs and expectations (Apache-2.0, see fixtures/oasdiff/LICENSE), kept in the repository
REFERENCE = Path(os.environ.get("CANARY_LINT_OASDIFF_REFERENCE", ROOT / "fixtures" / "oasdiff"))
AGREEMENT_FLOOR = 0.912  # agreeing cases / judged cases (deliberate differences count as disagreement)

# Cases where we differ from oasdiff on purpose, each with the reason we believe our answer is right for a
# canary. They are still counted as disagreements in the agreement figure.
DELIBERATE = {
    "TestBreaking_DeprecationPast": "a deprecated operation past its sunset is still called by v1 clients during "
                                    "the rollout: removing it is an error (oasdiff: allowed after sunset)",
    "TestBreaking_DeprecationPathPast": "same: removal after sunset still breaks v1 clients during the canary",
    "TestBreaking_ReqBodyNewRequiredPropertyNew": "`name` becomes required (without a `properties` entry): requests "
                                                  "of v1 clients without it fail validation",
    "TestBreaking_RequiredPropertyWriteOnlyEnabled": "a required response property that becomes writeOnly is no "
                                                     "longer returned; v1 clients read it",
    "TestBreaking_AddPattern": "the pattern is added to a readOnly property, which clients never send",
    "TestBreaking_ModifyPattern": "the pattern changes on a readOnly property, which clients never send",
    "TestBreaking_AddPatternRecursive": "the pattern is added to a readOnly property, which clients never send",
    "TestRequestBodyRemoved": "a removed request body is ignored by v2: a warning (v1 clients lose the effect), "
                              "not a rejected request",
    "TestBreaking_RequestParameterMaxItemsWithoutFlatten": "maxItems 20 -> 10 on a request parameter rejects "
                                                           "requests v1 clients send",
    "TestNotSubSchemaTraversalAddedProperty": "a new required property inside `not` makes the negated schema "
                                              "narrower, so the request schema accepts more: not a break",
    "TestNotSubSchemaTraversalDeletedProperty": "inside `not` the direction inverts; removing a property there "
                                                "does not remove an input",
    "TestTransitionClaims_RealChangeAlongsideTransitionStillReported": "enum [alpha, beta] -> oneOf [string, "
                                                                        "integer] accepts every value v1 clients send",
}

OASDIFF_TO_CANARY = {
    'api-deprecated-sunset-missing': None,
    'api-deprecated-sunset-parse': None,
    'api-global-security-added': 'CLA140',
    'api-global-security-removed': None,
    'api-global-security-scope-added': 'CLA140',
    'api-global-security-scope-removed': None,
    'api-invalid-stability-level': None,
    'api-major-version-not-bumped': None,
    'api-operation-id-added': None,
    'api-operation-id-removed': None,
    'api-path-removed-before-sunset': 'CLA101',
    'api-path-removed-with-deprecation': 'CLA101',
    'api-path-removed-without-deprecation': 'CLA101',
    'api-path-sunset-parse': None,
    'api-removed-before-sunset': 'CLA101',
    'api-removed-with-deprecation': 'CLA101',
    'api-removed-without-deprecation': 'CLA101',
    'api-schema-removed': None,
    'api-security-added': 'CLA140',
    'api-security-component-added': None,
    'api-security-component-oauth-scope-added': None,
    'api-security-component-oauth-scope-changed': None,
    'api-security-component-oauth-scope-removed': None,
    'api-security-component-oauth-token-url-changed': None,
    'api-security-component-oauth-url-changed': None,
    'api-security-component-removed': None,
    'api-security-component-type-changed': None,
    'api-security-removed': None,
    'api-security-scope-added': 'CLA140',
    'api-security-scope-removed': None,
    'api-stability-decreased': None,
    'api-stability-increased': None,
    'api-sunset-date-changed-too-small': None,
    'api-sunset-date-too-small': None,
    'api-tag-added': None,
    'api-tag-removed': None,
    'api-version-decreased': None,
    'api-version-not-bumped': None,
    'endpoint-added': None,
    'endpoint-deprecated': None,
    'endpoint-deprecated-with-sunset': None,
    'endpoint-reactivated': None,
    'new-optional-request-default-parameter-to-existing-path': None,
    'new-optional-request-parameter': None,
    'new-optional-request-property': None,
    'new-request-path-parameter': 'CLA110',
    'new-required-request-default-parameter-to-existing-path': 'CLA110',
    'new-required-request-header-property': 'CLA110',
    'new-required-request-parameter': 'CLA110',
    'new-required-request-property': 'CLA110',
    'new-required-request-property-with-default': 'CLA110',
    'optional-response-header-removed': 'CLA137',
    'request-body-added-optional': None,
    'request-body-added-required': 'CLA110',
    'request-body-all-of-added': None,
    'request-body-all-of-added-annotation-only': None,
    'request-body-all-of-removed': None,
    'request-body-all-of-removed-annotation-only': None,
    'request-body-any-of-added': None,
    'request-body-any-of-removed': 'CLA119',
    'request-body-became-enum': 'CLA113',
    'request-body-became-not-nullable': 'CLA112',
    'request-body-became-nullable': None,
    'request-body-became-optional': None,
    'request-body-became-required': 'CLA111',
    'request-body-const-added': 'CLA113',
    'request-body-const-changed': 'CLA113',
    'request-body-const-removed': None,
    'request-body-contains-added': 'CLA114',
    'request-body-contains-removed': None,
    'request-body-content-encoding-changed': 'CLA112',
    'request-body-content-media-type-changed': 'CLA112',
    'request-body-content-schema-added': None,
    'request-body-content-schema-removed': None,
    'request-body-default-value-added': None,
    'request-body-default-value-changed': None,
    'request-body-default-value-removed': None,
    'request-body-dependent-required-added': 'CLA111',
    'request-body-dependent-required-changed': None,
    'request-body-dependent-required-removed': None,
    'request-body-dependent-schema-added': None,
    'request-body-dependent-schema-removed': None,
    'request-body-discriminator-added': None,
    'request-body-discriminator-mapping-added': None,
    'request-body-discriminator-mapping-changed': 'CLA138',
    'request-body-discriminator-mapping-deleted': 'CLA138',
    'request-body-discriminator-property-name-changed': 'CLA138',
    'request-body-discriminator-removed': None,
    'request-body-else-added': None,
    'request-body-else-removed': None,
    'request-body-enum-value-removed': 'CLA113',
    'request-body-exclusive-max-decreased': 'CLA114',
    'request-body-exclusive-max-increased': None,
    'request-body-exclusive-max-set': 'CLA114',
    'request-body-exclusive-min-decreased': None,
    'request-body-exclusive-min-increased': 'CLA114',
    'request-body-exclusive-min-set': 'CLA114',
    'request-body-if-added': None,
    'request-body-if-removed': None,
    'request-body-list-of-types-narrowed': 'CLA112',
    'request-body-list-of-types-widened': None,
    'request-body-max-contains-decreased': 'CLA114',
    'request-body-max-contains-increased': None,
    'request-body-max-decreased': 'CLA114',
    'request-body-max-increased': None,
    'request-body-max-length-decreased': 'CLA114',
    'request-body-max-length-increased': None,
    'request-body-max-length-set': 'CLA114',
    'request-body-max-set': 'CLA114',
    'request-body-media-type-added': None,
    'request-body-media-type-removed': 'CLA118',
    'request-body-media-type-schema-added': None,
    'request-body-media-type-schema-removed': None,
    'request-body-min-contains-decreased': None,
    'request-body-min-contains-increased': 'CLA114',
    'request-body-min-decreased': None,
    'request-body-min-increased': 'CLA114',
    'request-body-min-items-increased': 'CLA114',
    'request-body-min-items-set': 'CLA114',
    'request-body-min-length-decreased': None,
    'request-body-min-length-increased': 'CLA114',
    'request-body-min-set': 'CLA114',
    'request-body-one-of-added': None,
    'request-body-one-of-removed': 'CLA119',
    'request-body-pattern-property-added': None,
    'request-body-pattern-property-removed': None,
    'request-body-prefix-items-added': None,
    'request-body-prefix-items-removed': None,
    'request-body-property-names-added': None,
    'request-body-property-names-removed': None,
    'request-body-removed': 'CLA117',
    'request-body-then-added': None,
    'request-body-then-removed': None,
    'request-body-type-changed': 'CLA112',
    'request-body-type-compatible': None,
    'request-body-type-generalized': None,
    'request-body-unevaluated-items-added': None,
    'request-body-unevaluated-items-removed': None,
    'request-body-unevaluated-properties-added': None,
    'request-body-unevaluated-properties-removed': None,
    'request-body-wrapped-in-one-of': None,
    'request-header-property-became-enum': 'CLA113',
    'request-header-property-became-required': 'CLA111',
    'request-optional-property-became-not-read-only': None,
    'request-optional-property-became-not-write-only': None,
    'request-optional-property-became-read-only': None,
    'request-optional-property-became-write-only': None,
    'request-parameter-became-enum': 'CLA113',
    'request-parameter-became-not-nullable': 'CLA112',
    'request-parameter-became-nullable': None,
    'request-parameter-became-optional': None,
    'request-parameter-became-required': 'CLA111',
    'request-parameter-default-value-added': None,
    'request-parameter-default-value-changed': 'CLA115',
    'request-parameter-default-value-removed': 'CLA115',
    'request-parameter-deprecated': None,
    'request-parameter-deprecated-sunset-missing': None,
    'request-parameter-enum-value-added': None,
    'request-parameter-enum-value-removed': 'CLA113',
    'request-parameter-exclusive-max-decreased': 'CLA114',
    'request-parameter-exclusive-max-increased': None,
    'request-parameter-exclusive-max-set': 'CLA114',
    'request-parameter-exclusive-min-decreased': None,
    'request-parameter-exclusive-min-increased': 'CLA114',
    'request-parameter-exclusive-min-set': 'CLA114',
    'request-parameter-list-of-types-narrowed': 'CLA112',
    'request-parameter-list-of-types-widened': None,
    'request-parameter-max-decreased': 'CLA114',
    'request-parameter-max-increased': None,
    'request-parameter-max-items-decreased': 'CLA114',
    'request-parameter-max-items-increased': None,
    'request-parameter-max-length-decreased': 'CLA114',
    'request-parameter-max-length-increased': None,
    'request-parameter-max-length-set': 'CLA114',
    'request-parameter-max-set': 'CLA114',
    'request-parameter-min-decreased': None,
    'request-parameter-min-increased': 'CLA114',
    'request-parameter-min-items-decreased': None,
    'request-parameter-min-items-increased': 'CLA114',
    'request-parameter-min-items-set': 'CLA114',
    'request-parameter-min-length-decreased': None,
    'request-parameter-min-length-increased': 'CLA114',
    'request-parameter-min-set': 'CLA114',
    'request-parameter-pattern-added': 'CLA114',
    'request-parameter-pattern-changed': 'CLA114',
    'request-parameter-pattern-generalized': None,
    'request-parameter-pattern-removed': None,
    'request-parameter-property-became-not-nullable': 'CLA112',
    'request-parameter-property-became-nullable': None,
    'request-parameter-property-enum-value-added': None,
    'request-parameter-property-enum-value-removed': 'CLA113',
    'request-parameter-property-list-of-types-narrowed': 'CLA112',
    'request-parameter-property-list-of-types-widened': None,
    'request-parameter-property-type-changed': 'CLA112',
    'request-parameter-property-type-generalized': None,
    'request-parameter-property-type-specialized': 'CLA112',
    'request-parameter-reactivated': None,
    'request-parameter-removed': 'CLA117',
    'request-parameter-removed-before-sunset': None,
    'request-parameter-removed-with-deprecation': None,
    'request-parameter-sunset-date-changed-too-small': None,
    'request-parameter-sunset-date-too-small': None,
    'request-parameter-sunset-deleted': None,
    'request-parameter-sunset-parse': None,
    'request-parameter-type-changed': 'CLA112',
    'request-parameter-type-generalized': None,
    'request-parameter-x-extensible-enum-value-removed': 'CLA113',
    'request-property-all-of-added': None,
    'request-property-all-of-added-annotation-only': None,
    'request-property-all-of-removed': None,
    'request-property-all-of-removed-annotation-only': None,
    'request-property-any-of-added': None,
    'request-property-any-of-removed': 'CLA119',
    'request-property-became-enum': 'CLA113',
    'request-property-became-not-nullable': 'CLA112',
    'request-property-became-nullable': None,
    'request-property-became-optional': None,
    'request-property-became-required': 'CLA111',
    'request-property-became-required-with-default': 'CLA111',
    'request-property-const-added': 'CLA113',
    'request-property-const-changed': 'CLA113',
    'request-property-const-removed': None,
    'request-property-contains-added': 'CLA114',
    'request-property-contains-removed': None,
    'request-property-content-encoding-changed': 'CLA112',
    'request-property-content-media-type-changed': 'CLA112',
    'request-property-content-schema-added': None,
    'request-property-content-schema-removed': None,
    'request-property-default-value-added': None,
    'request-property-default-value-changed': None,
    'request-property-default-value-removed': None,
    'request-property-dependent-required-added': 'CLA111',
    'request-property-dependent-required-changed': None,
    'request-property-dependent-required-removed': None,
    'request-property-dependent-schema-added': None,
    'request-property-dependent-schema-removed': None,
    'request-property-deprecated': None,
    'request-property-deprecated-sunset-invalid': None,
    'request-property-deprecated-sunset-missing': None,
    'request-property-deprecated-with-sunset': None,
    'request-property-discriminator-added': None,
    'request-property-discriminator-mapping-added': None,
    'request-property-discriminator-mapping-changed': 'CLA138',
    'request-property-discriminator-mapping-deleted': 'CLA138',
    'request-property-discriminator-property-name-changed': 'CLA138',
    'request-property-discriminator-removed': None,
    'request-property-else-added': None,
    'request-property-else-removed': None,
    'request-property-enum-value-added': None,
    'request-property-enum-value-removed': 'CLA113',
    'request-property-exclusive-max-decreased': 'CLA114',
    'request-property-exclusive-max-increased': None,
    'request-property-exclusive-max-set': 'CLA114',
    'request-property-exclusive-min-decreased': None,
    'request-property-exclusive-min-increased': 'CLA114',
    'request-property-exclusive-min-set': 'CLA114',
    'request-property-if-added': None,
    'request-property-if-removed': None,
    'request-property-list-of-types-narrowed': 'CLA112',
    'request-property-list-of-types-widened': None,
    'request-property-max-contains-decreased': 'CLA114',
    'request-property-max-contains-increased': None,
    'request-property-max-decreased': 'CLA114',
    'request-property-max-increased': None,
    'request-property-max-length-decreased': 'CLA114',
    'request-property-max-length-increased': None,
    'request-property-max-length-set': 'CLA114',
    'request-property-max-set': 'CLA114',
    'request-property-min-contains-decreased': None,
    'request-property-min-contains-increased': 'CLA114',
    'request-property-min-decreased': None,
    'request-property-min-increased': 'CLA114',
    'request-property-min-items-increased': 'CLA114',
    'request-property-min-items-set': 'CLA114',
    'request-property-min-length-decreased': None,
    'request-property-min-length-increased': 'CLA114',
    'request-property-min-set': 'CLA114',
    'request-property-one-of-added': None,
    'request-property-one-of-removed': 'CLA119',
    'request-property-pattern-added': 'CLA114',
    'request-property-pattern-changed': 'CLA114',
    'request-property-pattern-generalized': None,
    'request-property-pattern-property-added': None,
    'request-property-pattern-property-removed': None,
    'request-property-pattern-removed': None,
    'request-property-prefix-items-added': None,
    'request-property-prefix-items-removed': None,
    'request-property-property-names-added': None,
    'request-property-property-names-removed': None,
    'request-property-reactivated': None,
    'request-property-removed': 'CLA117',
    'request-property-stability-decreased': None,
    'request-property-stability-increased': None,
    'request-property-sunset-date-too-small': None,
    'request-property-then-added': None,
    'request-property-then-removed': None,
    'request-property-type-changed': 'CLA112',
    'request-property-type-compatible': None,
    'request-property-type-generalized': None,
    'request-property-unevaluated-items-added': None,
    'request-property-unevaluated-items-removed': None,
    'request-property-unevaluated-properties-added': None,
    'request-property-unevaluated-properties-removed': None,
    'request-property-x-extensible-enum-value-removed': 'CLA113',
    'request-read-only-property-enum-value-removed': None,
    'request-read-only-property-exclusive-max-decreased': None,
    'request-read-only-property-exclusive-min-increased': None,
    'request-read-only-property-max-decreased': None,
    'request-read-only-property-max-length-decreased': None,
    'request-read-only-property-min-increased': None,
    'request-required-property-became-not-read-only': None,
    'request-required-property-became-not-write-only': None,
    'request-required-property-became-read-only': None,
    'request-required-property-became-write-only': None,
    'required-response-header-removed': 'CLA137',
    'response-body-all-of-added': None,
    'response-body-all-of-added-annotation-only': None,
    'response-body-all-of-removed': None,
    'response-body-all-of-removed-annotation-only': None,
    'response-body-any-of-added': 'CLA134',
    'response-body-any-of-removed': None,
    'response-body-became-not-nullable': None,
    'response-body-became-nullable': 'CLA133',
    'response-body-const-added': None,
    'response-body-const-changed': 'CLA134',
    'response-body-const-removed': 'CLA135',
    'response-body-contains-added': None,
    'response-body-contains-removed': 'CLA136',
    'response-body-content-encoding-changed': 'CLA134',
    'response-body-content-media-type-changed': 'CLA134',
    'response-body-content-schema-added': None,
    'response-body-content-schema-removed': None,
    'response-body-default-value-added': None,
    'response-body-default-value-changed': None,
    'response-body-default-value-removed': None,
    'response-body-dependent-required-added': None,
    'response-body-dependent-required-changed': None,
    'response-body-dependent-required-removed': 'CLA133',
    'response-body-dependent-schema-added': None,
    'response-body-dependent-schema-removed': None,
    'response-body-discriminator-added': None,
    'response-body-discriminator-mapping-added': None,
    'response-body-discriminator-mapping-changed': 'CLA138',
    'response-body-discriminator-mapping-deleted': 'CLA138',
    'response-body-discriminator-property-name-changed': 'CLA138',
    'response-body-discriminator-removed': None,
    'response-body-else-added': None,
    'response-body-else-removed': None,
    'response-body-exclusive-max-increased': 'CLA136',
    'response-body-exclusive-min-decreased': 'CLA136',
    'response-body-if-added': None,
    'response-body-if-removed': None,
    'response-body-list-of-types-narrowed': None,
    'response-body-list-of-types-widened': 'CLA134',
    'response-body-max-contains-decreased': None,
    'response-body-max-contains-increased': 'CLA136',
    'response-body-max-increased': 'CLA136',
    'response-body-max-length-increased': 'CLA136',
    'response-body-max-length-unset': 'CLA136',
    'response-body-media-type-schema-added': None,
    'response-body-media-type-schema-removed': None,
    'response-body-min-contains-decreased': 'CLA136',
    'response-body-min-contains-increased': None,
    'response-body-min-decreased': 'CLA136',
    'response-body-min-items-decreased': 'CLA136',
    'response-body-min-items-unset': 'CLA136',
    'response-body-min-length-decreased': 'CLA136',
    'response-body-one-of-added': 'CLA134',
    'response-body-one-of-removed': None,
    'response-body-pattern-property-added': None,
    'response-body-pattern-property-removed': None,
    'response-body-prefix-items-added': None,
    'response-body-prefix-items-removed': None,
    'response-body-property-names-added': None,
    'response-body-property-names-removed': None,
    'response-body-then-added': None,
    'response-body-then-removed': None,
    'response-body-type-changed': 'CLA134',
    'response-body-type-compatible': None,
    'response-body-type-generalized': 'CLA134',
    'response-body-type-specialized': None,
    'response-body-unevaluated-items-added': None,
    'response-body-unevaluated-items-removed': None,
    'response-body-unevaluated-properties-added': None,
    'response-body-unevaluated-properties-removed': None,
    'response-body-wrapped-in-one-of': 'CLA134',
    'response-header-added': None,
    'response-header-became-not-nullable': None,
    'response-header-became-nullable': 'CLA133',
    'response-header-became-optional': 'CLA137',
    'response-header-type-changed': 'CLA134',
    'response-header-type-compatible': None,
    'response-header-type-generalized': 'CLA134',
    'response-header-type-specialized': None,
    'response-media-type-added': None,
    'response-media-type-name-changed': None,
    'response-media-type-name-generalized': 'CLA131',
    'response-media-type-name-specialized': None,
    'response-media-type-removed': 'CLA131',
    'response-mediatype-enum-value-removed': None,
    'response-non-success-status-added': None,
    'response-non-success-status-removed': None,
    'response-optional-property-added': None,
    'response-optional-property-became-not-read-only': None,
    'response-optional-property-became-not-write-only': None,
    'response-optional-property-became-read-only': None,
    'response-optional-property-became-write-only': None,
    'response-optional-property-removed': 'CLA132',
    'response-optional-write-only-property-added': None,
    'response-optional-write-only-property-removed': None,
    'response-property-all-of-added': None,
    'response-property-all-of-added-annotation-only': None,
    'response-property-all-of-removed': None,
    'response-property-all-of-removed-annotation-only': None,
    'response-property-any-of-added': 'CLA134',
    'response-property-any-of-removed': None,
    'response-property-became-not-nullable': None,
    'response-property-became-nullable': 'CLA133',
    'response-property-became-optional': 'CLA133',
    'response-property-became-required': None,
    'response-property-const-added': None,
    'response-property-const-changed': 'CLA134',
    'response-property-const-removed': 'CLA135',
    'response-property-contains-added': None,
    'response-property-contains-removed': 'CLA136',
    'response-property-content-encoding-changed': 'CLA134',
    'response-property-content-media-type-changed': 'CLA134',
    'response-property-content-schema-added': None,
    'response-property-content-schema-removed': None,
    'response-property-default-value-added': None,
    'response-property-default-value-changed': None,
    'response-property-default-value-removed': None,
    'response-property-dependent-required-added': None,
    'response-property-dependent-required-changed': None,
    'response-property-dependent-required-removed': 'CLA133',
    'response-property-dependent-schema-added': None,
    'response-property-dependent-schema-removed': None,
    'response-property-deprecated': None,
    'response-property-deprecated-sunset-invalid': None,
    'response-property-deprecated-sunset-missing': None,
    'response-property-deprecated-with-sunset': None,
    'response-property-discriminator-added': None,
    'response-property-discriminator-mapping-added': None,
    'response-property-discriminator-mapping-changed': 'CLA138',
    'response-property-discriminator-mapping-deleted': 'CLA138',
    'response-property-discriminator-property-name-changed': 'CLA138',
    'response-property-discriminator-removed': None,
    'response-property-else-added': None,
    'response-property-else-removed': None,
    'response-property-enum-value-added': 'CLA135',
    'response-property-enum-value-removed': None,
    'response-property-exclusive-max-increased': 'CLA136',
    'response-property-exclusive-min-decreased': 'CLA136',
    'response-property-if-added': None,
    'response-property-if-removed': None,
    'response-property-list-of-types-narrowed': None,
    'response-property-list-of-types-widened': 'CLA134',
    'response-property-max-contains-decreased': None,
    'response-property-max-contains-increased': 'CLA136',
    'response-property-max-increased': 'CLA136',
    'response-property-max-length-increased': 'CLA136',
    'response-property-max-length-unset': 'CLA136',
    'response-property-min-contains-decreased': 'CLA136',
    'response-property-min-contains-increased': None,
    'response-property-min-decreased': 'CLA136',
    'response-property-min-items-decreased': 'CLA136',
    'response-property-min-items-unset': 'CLA136',
    'response-property-min-length-decreased': 'CLA136',
    'response-property-one-of-added': 'CLA134',
    'response-property-one-of-removed': None,
    'response-property-pattern-added': None,
    'response-property-pattern-changed': None,
    'response-property-pattern-property-added': None,
    'response-property-pattern-property-removed': None,
    'response-property-pattern-removed': None,
    'response-property-prefix-items-added': None,
    'response-property-prefix-items-removed': None,
    'response-property-property-names-added': None,
    'response-property-property-names-removed': None,
    'response-property-reactivated': None,
    'response-property-stability-decreased': None,
    'response-property-stability-increased': None,
    'response-property-sunset-date-too-small': None,
    'response-property-then-added': None,
    'response-property-then-removed': None,
    'response-property-type-changed': 'CLA134',
    'response-property-type-compatible': None,
    'response-property-type-generalized': 'CLA134',
    'response-property-type-specialized': None,
    'response-property-unevaluated-items-added': None,
    'response-property-unevaluated-items-removed': None,
    'response-property-unevaluated-properties-added': None,
    'response-property-unevaluated-properties-removed': None,
    'response-required-property-added': None,
    'response-required-property-became-not-read-only': None,
    'response-required-property-became-not-write-only': None,
    'response-required-property-became-read-only': None,
    'response-required-property-became-write-only': None,
    'response-required-property-removed': 'CLA132',
    'response-required-write-only-property-added': None,
    'response-required-write-only-property-removed': None,
    'response-success-status-added': None,
    'response-success-status-removed': 'CLA130',
    'response-write-only-property-became-optional': None,
    'response-write-only-property-became-required': None,
    'response-write-only-property-enum-value-added': None,
    'sunset-deleted': None,
    'webhook-added': None,
    'webhook-removed': 'CLA102',
}


def _reference():
    if not (REFERENCE / "cases.json").is_file():
        pytest.fail(f"oasdiff reference cases not found at {REFERENCE}; set CANARY_LINT_OASDIFF_REFERENCE")
    cases = json.loads((REFERENCE / "cases.json").read_text())
    with open(REFERENCE / "rules.tsv", newline="") as fh:
        rules = list(csv.DictReader(fh, delimiter="\t"))
    return cases, rules


def run_pair(base: str, revision: str) -> list:
    specs = REFERENCE
    ctx = ReleaseContext(Config(root=specs), [], registry(), cwd=specs)
    allowed = _inside(specs)
    read = _disk_reader(specs, allowed)
    loaded = []
    for rel in (base, revision):
        loaded.append(load_spec(ctx, rel, (specs / rel).read_text(encoding="utf-8"), read, allowed, {}))
    findings = list(ctx.meta_findings)
    if all(loaded):
        findings += compare_specs(ctx, loaded[0], loaded[1], validate=False)
    return findings


def verdict(case: dict, findings: list, by_check: dict) -> tuple[str, str]:
    """("agree" | "disagree" | "policy", why)."""
    got: dict[str, Severity] = {}
    for f in findings:
        if f.rule not in got or f.severity.rank > got[f.rule].rank:
            got[f.rule] = f.severity
    errors = {code for code, sev in got.items() if sev is Severity.ERROR}
    expected_codes = set()
    problems = []
    mapped = 0
    for e in case["expect"]:
        code = OASDIFF_TO_CANARY.get(e["id"])
        if code is None:
            continue
        mapped += 1
        expected_codes.add(code)
        need = Severity.ERROR if e["level"] == "ERR" or code == "CLA140" else Severity.WARNING \
            if e["level"] == "WARN" else Severity.INFO
        if code not in got:
            problems.append(f"missing {code} for {e['id']}")
        elif got[code].rank < need.rank:
            problems.append(f"{code} for {e['id']} is {got[code].value}, oasdiff {e['level']}")
    for absent in case.get("expect_absent", []):
        code = OASDIFF_TO_CANARY.get(absent)
        if code and code not in expected_codes and code in got:
            problems.append(f"reported {code} although oasdiff asserts {absent} absent")
    if case["expect_none"]:
        if case["checks"] == "ALL":
            if errors:
                problems.append(f"errors {sorted(errors)} where oasdiff reports nothing")
        else:
            forbidden = {OASDIFF_TO_CANARY.get(i) for i in by_check.get(case["checks"], ())} - {None}
            hit = forbidden & errors
            if hit:
                problems.append(f"errors {sorted(hit)} where oasdiff's {case['checks']} reports nothing")
    if not mapped and not case["expect_none"] and not case.get("expect_absent"):
        if case["checks"] == "ALL" and errors:
            return "disagree", f"errors {sorted(errors)} where oasdiff reports only policy/info ids"
        return "policy", "no expected id maps to a client-break rule"
    return ("disagree" if problems else "agree"), "; ".join(problems)


def _run_all():
    cases, rules = _reference()
    by_check: dict[str, list] = {}
    for r in rules:
        by_check.setdefault(r["check"], []).append(r["id"])
    results = []
    for case in cases:
        findings = run_pair(case["base"], case["revision"])
        results.append((case, *verdict(case, findings, by_check), findings))
    return results


@pytest.fixture(scope="module")
def results():
    return _run_all()


def test_mapping_table_covers_every_oasdiff_rule_and_names_real_rules():
    _, rules = _reference()
    ids = {r["id"] for r in rules}
    assert sorted(ids - set(OASDIFF_TO_CANARY)) == []
    assert sorted(set(OASDIFF_TO_CANARY) - ids) == []
    reg = registry()
    for code in set(OASDIFF_TO_CANARY.values()) - {None}:
        assert reg.get(code).family == "api"


def test_no_reference_pair_crashes_or_fails_to_load(results):
    broken = [(c["case"], f.message) for c, _, _, fs in results for f in fs if f.rule in ("CL001", "CL005")]
    assert broken == []


def test_oasdiff_agreement(results):
    counts = Counter(v for _, v, _, _ in results)
    judged = counts["agree"] + counts["disagree"]
    rate = counts["agree"] / judged
    print(f"\noasdiff reference: {len(results)} cases, {counts['agree']} agree, {counts['disagree']} disagree, "
          f"{counts['policy']} policy-only; agreement {rate:.1%} of {judged} judged cases")
    for case, v, why, _ in results:
        if v == "disagree":
            reason = DELIBERATE.get(case["case"])
            print(f"  {'deliberate' if reason else 'disagree'} {case['case']}: {why}"
                  + (f"\n      ours: {reason}" if reason else ""))
    assert rate >= AGREEMENT_FLOOR


def test_deliberate_differences_are_still_differences(results):
    """A deliberate entry that starts agreeing is stale: drop it from DELIBERATE."""
    verdicts = {c["case"]: v for c, v, _, _ in results}
    assert sorted(n for n in DELIBERATE if verdicts.get(n) != "disagree") == []


def test_core_client_breaks_agree(results):
    """The classes a canary cannot survive agree case by case (no floor hides a regression here)."""
    core = {"CLA101", "CLA110", "CLA111", "CLA113", "CLA118", "CLA130", "CLA131", "CLA132", "CLA133", "CLA140"}
    bad = [(c["case"], why) for c, v, why, _ in results if v == "disagree" and c["case"] not in DELIBERATE
           and any(OASDIFF_TO_CANARY.get(e["id"]) in core for e in c["expect"])]
    assert bad == []


def test_schema_applicator_cases_agree(results):
    """`contains`/`minContains`/`maxContains`, `if`/`then`/`else`, `prefixItems`, `propertyNames`,
    `contentSchema` sub-schemas and `dependentRequired` are compared; the reference cases about them agree one
    by one."""
    cases = {"TestRequestBodyMinContainsIncreased", "TestRequestPropertyMaxContainsDecreased",
             "TestResponseBodyMinContainsDecreased", "TestResponseBodyMaxContainsIncreased",
             "TestResponsePropertyContainsRemoved", "TestResponsePropertyMinContainsDecreased",
             "TestSubSchemaTraversalMinLengthChanged", "TestSubSchemaTraversalMinChanged",
             "TestSubSchemaTraversalDeletedProperty", "TestRequestPropertyDependentRequiredAdded",
             "TestResponseBodyDependentRequiredRemoved", "TestResponsePropertyDependentRequiredRemoved"}
    verdicts = {c["case"]: (v, why) for c, v, why, _ in results if c["case"] in cases}
    assert sorted(verdicts) == sorted(cases)
    assert {n: vw for n, vw in verdicts.items() if vw[0] != "agree"} == {}


def test_every_reference_spec_compared_with_itself_is_quiet():
    specs = sorted(p.relative_to(REFERENCE).as_posix() for p in (REFERENCE / "specs").rglob("*")
                   if p.suffix in (".yaml", ".yml", ".json"))
    assert len(specs) > 300
    noisy = {}
    for rel in specs:
        found = [f"{f.rule} {f.message}" for f in run_pair(rel, rel) if f.rule not in ("CL001", "CLA191")]
        if found:
            noisy[rel] = found
    assert noisy == {}
