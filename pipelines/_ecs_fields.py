"""Every Elastic Common Schema 9.4.0 field and its Elasticsearch type (generated, do not edit).

Generated from ``fields-9.4.0.tsv`` (ECS's published ``ecs_flat.yml``). The ``ecs`` stage uses it to
map keys that already carry an ECS name (``"log.level"``) and to coerce values to the field's type.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

__all__ = ["ECS_FIELD_TYPES", "ECS_VERSION"]

ECS_VERSION: Final = "9.4.0"

# One space-separated block per type keeps this file small and diff-friendly.
_BY_TYPE: Final[dict[str, str]] = {
    "boolean": """
        cloud.entity.attributes.managed cloud.entity.attributes.mfa_enabled
        cloud.origin.entity.attributes.managed cloud.origin.entity.attributes.mfa_enabled
        cloud.target.entity.attributes.managed cloud.target.entity.attributes.mfa_enabled
        container.security_context.privileged dll.code_signature.exists dll.code_signature.trusted
        dll.code_signature.valid dll.pe.go_stripped entity.attributes.managed
        entity.attributes.mfa_enabled entity.target.attributes.managed
        entity.target.attributes.mfa_enabled faas.coldstart file.code_signature.exists
        file.code_signature.trusted file.code_signature.valid file.elf.go_stripped
        file.macho.go_stripped file.pe.go_stripped host.entity.attributes.managed
        host.entity.attributes.mfa_enabled host.target.entity.attributes.managed
        host.target.entity.attributes.mfa_enabled orchestrator.entity.attributes.managed
        orchestrator.entity.attributes.mfa_enabled process.code_signature.exists
        process.code_signature.trusted process.code_signature.valid process.elf.go_stripped
        process.entry_leader.interactive process.entry_leader.same_as_process
        process.group_leader.interactive process.group_leader.same_as_process process.interactive
        process.io.max_bytes_per_process_exceeded process.macho.go_stripped
        process.parent.code_signature.exists process.parent.code_signature.trusted
        process.parent.code_signature.valid process.parent.elf.go_stripped
        process.parent.interactive process.parent.macho.go_stripped process.parent.pe.go_stripped
        process.pe.go_stripped process.session_leader.interactive
        process.session_leader.same_as_process service.entity.attributes.managed
        service.entity.attributes.mfa_enabled service.origin.entity.attributes.managed
        service.origin.entity.attributes.mfa_enabled service.target.entity.attributes.managed
        service.target.entity.attributes.mfa_enabled
        threat.enrichments.indicator.file.code_signature.exists
        threat.enrichments.indicator.file.code_signature.trusted
        threat.enrichments.indicator.file.code_signature.valid
        threat.enrichments.indicator.file.elf.go_stripped
        threat.enrichments.indicator.file.pe.go_stripped
        threat.indicator.file.code_signature.exists threat.indicator.file.code_signature.trusted
        threat.indicator.file.code_signature.valid threat.indicator.file.elf.go_stripped
        threat.indicator.file.pe.go_stripped tls.established tls.resumed
        user.changes.entity.attributes.managed user.changes.entity.attributes.mfa_enabled
        user.effective.entity.attributes.managed user.effective.entity.attributes.mfa_enabled
        user.entity.attributes.managed user.entity.attributes.mfa_enabled
        user.target.entity.attributes.managed user.target.entity.attributes.mfa_enabled
        volume.removable volume.writable
    """,
    "constant_keyword": """
        data_stream.dataset data_stream.namespace data_stream.type
    """,
    "date": """
        @timestamp cloud.entity.last_seen_timestamp cloud.entity.lifecycle.last_activity
        cloud.origin.entity.last_seen_timestamp cloud.origin.entity.lifecycle.last_activity
        cloud.target.entity.last_seen_timestamp cloud.target.entity.lifecycle.last_activity
        dll.code_signature.timestamp email.delivery_timestamp email.origination_timestamp
        entity.last_seen_timestamp entity.lifecycle.last_activity
        entity.target.last_seen_timestamp entity.target.lifecycle.last_activity event.created
        event.end event.ingested event.start file.accessed file.code_signature.timestamp
        file.created file.ctime file.elf.creation_date file.mtime file.x509.not_after
        file.x509.not_before host.entity.last_seen_timestamp host.entity.lifecycle.last_activity
        host.target.entity.last_seen_timestamp host.target.entity.lifecycle.last_activity
        orchestrator.entity.last_seen_timestamp orchestrator.entity.lifecycle.last_activity
        package.installed process.code_signature.timestamp process.elf.creation_date process.end
        process.entry_leader.parent.session_leader.start process.entry_leader.parent.start
        process.entry_leader.start process.group_leader.start
        process.parent.code_signature.timestamp process.parent.elf.creation_date
        process.parent.end process.parent.group_leader.start process.parent.start
        process.session_leader.parent.session_leader.start process.session_leader.parent.start
        process.session_leader.start process.start service.entity.last_seen_timestamp
        service.entity.lifecycle.last_activity service.origin.entity.last_seen_timestamp
        service.origin.entity.lifecycle.last_activity service.target.entity.last_seen_timestamp
        service.target.entity.lifecycle.last_activity threat.enrichments.indicator.file.accessed
        threat.enrichments.indicator.file.code_signature.timestamp
        threat.enrichments.indicator.file.created threat.enrichments.indicator.file.ctime
        threat.enrichments.indicator.file.elf.creation_date
        threat.enrichments.indicator.file.mtime threat.enrichments.indicator.file.x509.not_after
        threat.enrichments.indicator.file.x509.not_before threat.enrichments.indicator.first_seen
        threat.enrichments.indicator.last_seen threat.enrichments.indicator.modified_at
        threat.enrichments.indicator.x509.not_after threat.enrichments.indicator.x509.not_before
        threat.enrichments.matched.occurred threat.indicator.file.accessed
        threat.indicator.file.code_signature.timestamp threat.indicator.file.created
        threat.indicator.file.ctime threat.indicator.file.elf.creation_date
        threat.indicator.file.mtime threat.indicator.file.x509.not_after
        threat.indicator.file.x509.not_before threat.indicator.first_seen
        threat.indicator.last_seen threat.indicator.modified_at threat.indicator.x509.not_after
        threat.indicator.x509.not_before tls.client.not_after tls.client.not_before
        tls.client.x509.not_after tls.client.x509.not_before tls.server.not_after
        tls.server.not_before tls.server.x509.not_after tls.server.x509.not_before
        user.changes.entity.last_seen_timestamp user.changes.entity.lifecycle.last_activity
        user.effective.entity.last_seen_timestamp user.effective.entity.lifecycle.last_activity
        user.entity.last_seen_timestamp user.entity.lifecycle.last_activity
        user.target.entity.last_seen_timestamp user.target.entity.lifecycle.last_activity
    """,
    "double": """
        gen_ai.request.frequency_penalty gen_ai.request.presence_penalty
        gen_ai.request.temperature gen_ai.request.top_k gen_ai.request.top_p
    """,
    "flattened": """
        dll.pe.go_imports dll.pe.imports file.elf.exports file.elf.go_imports file.elf.imports
        file.macho.go_imports file.macho.imports file.pe.go_imports file.pe.imports
        log.syslog.structured_data process.elf.exports process.elf.go_imports process.elf.imports
        process.macho.go_imports process.macho.imports process.parent.elf.exports
        process.parent.elf.go_imports process.parent.elf.imports process.parent.macho.go_imports
        process.parent.macho.imports process.parent.pe.go_imports process.parent.pe.imports
        process.pe.go_imports process.pe.imports threat.enrichments.indicator.file.elf.exports
        threat.enrichments.indicator.file.elf.go_imports
        threat.enrichments.indicator.file.elf.imports
        threat.enrichments.indicator.file.pe.go_imports
        threat.enrichments.indicator.file.pe.imports threat.indicator.file.elf.exports
        threat.indicator.file.elf.go_imports threat.indicator.file.elf.imports
        threat.indicator.file.pe.go_imports threat.indicator.file.pe.imports
    """,
    "float": """
        event.risk_score event.risk_score_norm host.risk.calculated_score
        host.risk.calculated_score_norm host.risk.static_score host.risk.static_score_norm
        host.target.risk.calculated_score host.target.risk.calculated_score_norm
        host.target.risk.static_score host.target.risk.static_score_norm
        user.changes.risk.calculated_score user.changes.risk.calculated_score_norm
        user.changes.risk.static_score user.changes.risk.static_score_norm
        user.effective.risk.calculated_score user.effective.risk.calculated_score_norm
        user.effective.risk.static_score user.effective.risk.static_score_norm
        user.risk.calculated_score user.risk.calculated_score_norm user.risk.static_score
        user.risk.static_score_norm user.target.risk.calculated_score
        user.target.risk.calculated_score_norm user.target.risk.static_score
        user.target.risk.static_score_norm vulnerability.score.base
        vulnerability.score.environmental vulnerability.score.temporal
    """,
    "geo_point": """
        client.geo.location destination.geo.location host.geo.location host.target.geo.location
        observer.geo.location server.geo.location source.geo.location
        threat.enrichments.indicator.geo.location threat.indicator.geo.location
    """,
    "integer": """
        gen_ai.request.choice.count gen_ai.request.max_tokens gen_ai.request.seed
        gen_ai.usage.input_tokens gen_ai.usage.output_tokens
    """,
    "ip": """
        client.ip client.nat.ip destination.ip destination.nat.ip dns.resolved_ip host.ip
        host.target.ip network.forwarded_ip observer.ip orchestrator.resource.ip
        process.entry_leader.entry_meta.source.ip related.ip server.ip server.nat.ip source.ip
        source.nat.ip threat.enrichments.indicator.ip threat.indicator.ip
    """,
    "keyword": """
        agent.build.original agent.ephemeral_id agent.id agent.name agent.type agent.version
        client.address client.as.organization.name client.domain client.geo.city_name
        client.geo.continent_code client.geo.continent_name client.geo.country_iso_code
        client.geo.country_name client.geo.name client.geo.postal_code client.geo.region_iso_code
        client.geo.region_name client.geo.timezone client.mac client.registered_domain
        client.subdomain client.top_level_domain client.user.domain client.user.email
        client.user.full_name client.user.group.domain client.user.group.id client.user.group.name
        client.user.hash client.user.id client.user.name client.user.roles cloud.account.id
        cloud.account.name cloud.availability_zone cloud.entity.attributes.known_redirects
        cloud.entity.attributes.oauth_consent_restriction cloud.entity.attributes.permissions
        cloud.entity.attributes.storage_class cloud.entity.display_name cloud.entity.id
        cloud.entity.name cloud.entity.reference cloud.entity.relationships.administers.entity.id
        cloud.entity.relationships.administers.host.id
        cloud.entity.relationships.administers.host.name
        cloud.entity.relationships.administers.service.id
        cloud.entity.relationships.administers.service.name
        cloud.entity.relationships.administers.user.domain
        cloud.entity.relationships.administers.user.email
        cloud.entity.relationships.administers.user.id
        cloud.entity.relationships.administers.user.name
        cloud.entity.relationships.depends_on.entity.id
        cloud.entity.relationships.depends_on.host.id
        cloud.entity.relationships.depends_on.host.name
        cloud.entity.relationships.depends_on.service.id
        cloud.entity.relationships.depends_on.service.name
        cloud.entity.relationships.depends_on.user.domain
        cloud.entity.relationships.depends_on.user.email
        cloud.entity.relationships.depends_on.user.id
        cloud.entity.relationships.depends_on.user.name cloud.entity.relationships.owns.entity.id
        cloud.entity.relationships.owns.host.id cloud.entity.relationships.owns.host.name
        cloud.entity.relationships.owns.service.id cloud.entity.relationships.owns.service.name
        cloud.entity.relationships.owns.user.domain cloud.entity.relationships.owns.user.email
        cloud.entity.relationships.owns.user.id cloud.entity.relationships.owns.user.name
        cloud.entity.relationships.supervises.entity.id
        cloud.entity.relationships.supervises.host.id
        cloud.entity.relationships.supervises.host.name
        cloud.entity.relationships.supervises.service.id
        cloud.entity.relationships.supervises.service.name
        cloud.entity.relationships.supervises.user.domain
        cloud.entity.relationships.supervises.user.email
        cloud.entity.relationships.supervises.user.id
        cloud.entity.relationships.supervises.user.name cloud.entity.source cloud.entity.sub_type
        cloud.entity.type cloud.instance.id cloud.instance.name cloud.machine.type
        cloud.origin.account.id cloud.origin.account.name cloud.origin.availability_zone
        cloud.origin.entity.attributes.known_redirects
        cloud.origin.entity.attributes.oauth_consent_restriction
        cloud.origin.entity.attributes.permissions cloud.origin.entity.attributes.storage_class
        cloud.origin.entity.display_name cloud.origin.entity.id cloud.origin.entity.name
        cloud.origin.entity.reference cloud.origin.entity.relationships.administers.entity.id
        cloud.origin.entity.relationships.administers.host.id
        cloud.origin.entity.relationships.administers.host.name
        cloud.origin.entity.relationships.administers.service.id
        cloud.origin.entity.relationships.administers.service.name
        cloud.origin.entity.relationships.administers.user.domain
        cloud.origin.entity.relationships.administers.user.email
        cloud.origin.entity.relationships.administers.user.id
        cloud.origin.entity.relationships.administers.user.name
        cloud.origin.entity.relationships.depends_on.entity.id
        cloud.origin.entity.relationships.depends_on.host.id
        cloud.origin.entity.relationships.depends_on.host.name
        cloud.origin.entity.relationships.depends_on.service.id
        cloud.origin.entity.relationships.depends_on.service.name
        cloud.origin.entity.relationships.depends_on.user.domain
        cloud.origin.entity.relationships.depends_on.user.email
        cloud.origin.entity.relationships.depends_on.user.id
        cloud.origin.entity.relationships.depends_on.user.name
        cloud.origin.entity.relationships.owns.entity.id
        cloud.origin.entity.relationships.owns.host.id
        cloud.origin.entity.relationships.owns.host.name
        cloud.origin.entity.relationships.owns.service.id
        cloud.origin.entity.relationships.owns.service.name
        cloud.origin.entity.relationships.owns.user.domain
        cloud.origin.entity.relationships.owns.user.email
        cloud.origin.entity.relationships.owns.user.id
        cloud.origin.entity.relationships.owns.user.name
        cloud.origin.entity.relationships.supervises.entity.id
        cloud.origin.entity.relationships.supervises.host.id
        cloud.origin.entity.relationships.supervises.host.name
        cloud.origin.entity.relationships.supervises.service.id
        cloud.origin.entity.relationships.supervises.service.name
        cloud.origin.entity.relationships.supervises.user.domain
        cloud.origin.entity.relationships.supervises.user.email
        cloud.origin.entity.relationships.supervises.user.id
        cloud.origin.entity.relationships.supervises.user.name cloud.origin.entity.source
        cloud.origin.entity.sub_type cloud.origin.entity.type cloud.origin.instance.id
        cloud.origin.instance.name cloud.origin.machine.type cloud.origin.project.id
        cloud.origin.project.name cloud.origin.provider cloud.origin.region
        cloud.origin.service.name cloud.project.id cloud.project.name cloud.provider cloud.region
        cloud.service.name cloud.target.account.id cloud.target.account.name
        cloud.target.availability_zone cloud.target.entity.attributes.known_redirects
        cloud.target.entity.attributes.oauth_consent_restriction
        cloud.target.entity.attributes.permissions cloud.target.entity.attributes.storage_class
        cloud.target.entity.display_name cloud.target.entity.id cloud.target.entity.name
        cloud.target.entity.reference cloud.target.entity.relationships.administers.entity.id
        cloud.target.entity.relationships.administers.host.id
        cloud.target.entity.relationships.administers.host.name
        cloud.target.entity.relationships.administers.service.id
        cloud.target.entity.relationships.administers.service.name
        cloud.target.entity.relationships.administers.user.domain
        cloud.target.entity.relationships.administers.user.email
        cloud.target.entity.relationships.administers.user.id
        cloud.target.entity.relationships.administers.user.name
        cloud.target.entity.relationships.depends_on.entity.id
        cloud.target.entity.relationships.depends_on.host.id
        cloud.target.entity.relationships.depends_on.host.name
        cloud.target.entity.relationships.depends_on.service.id
        cloud.target.entity.relationships.depends_on.service.name
        cloud.target.entity.relationships.depends_on.user.domain
        cloud.target.entity.relationships.depends_on.user.email
        cloud.target.entity.relationships.depends_on.user.id
        cloud.target.entity.relationships.depends_on.user.name
        cloud.target.entity.relationships.owns.entity.id
        cloud.target.entity.relationships.owns.host.id
        cloud.target.entity.relationships.owns.host.name
        cloud.target.entity.relationships.owns.service.id
        cloud.target.entity.relationships.owns.service.name
        cloud.target.entity.relationships.owns.user.domain
        cloud.target.entity.relationships.owns.user.email
        cloud.target.entity.relationships.owns.user.id
        cloud.target.entity.relationships.owns.user.name
        cloud.target.entity.relationships.supervises.entity.id
        cloud.target.entity.relationships.supervises.host.id
        cloud.target.entity.relationships.supervises.host.name
        cloud.target.entity.relationships.supervises.service.id
        cloud.target.entity.relationships.supervises.service.name
        cloud.target.entity.relationships.supervises.user.domain
        cloud.target.entity.relationships.supervises.user.email
        cloud.target.entity.relationships.supervises.user.id
        cloud.target.entity.relationships.supervises.user.name cloud.target.entity.source
        cloud.target.entity.sub_type cloud.target.entity.type cloud.target.instance.id
        cloud.target.instance.name cloud.target.machine.type cloud.target.project.id
        cloud.target.project.name cloud.target.provider cloud.target.region
        cloud.target.service.name container.id container.image.hash.all container.image.name
        container.image.tag container.name container.runtime destination.address
        destination.as.organization.name destination.domain destination.geo.city_name
        destination.geo.continent_code destination.geo.continent_name
        destination.geo.country_iso_code destination.geo.country_name destination.geo.name
        destination.geo.postal_code destination.geo.region_iso_code destination.geo.region_name
        destination.geo.timezone destination.mac destination.registered_domain
        destination.subdomain destination.top_level_domain destination.user.domain
        destination.user.email destination.user.full_name destination.user.group.domain
        destination.user.group.id destination.user.group.name destination.user.hash
        destination.user.id destination.user.name destination.user.roles device.id
        device.manufacturer device.model.identifier device.model.name device.product.id
        device.product.name device.serial_number device.type device.vendor.id device.vendor.name
        dll.code_signature.digest_algorithm dll.code_signature.flags dll.code_signature.signing_id
        dll.code_signature.status dll.code_signature.subject_name dll.code_signature.team_id
        dll.code_signature.thumbprint_sha256 dll.hash.cdhash dll.hash.md5 dll.hash.sha1
        dll.hash.sha256 dll.hash.sha384 dll.hash.sha512 dll.hash.ssdeep dll.hash.tlsh dll.name
        dll.origin_referrer_url dll.origin_url dll.path dll.pe.architecture dll.pe.company
        dll.pe.description dll.pe.file_version dll.pe.go_import_hash dll.pe.imphash
        dll.pe.import_hash dll.pe.original_file_name dll.pe.pehash dll.pe.product
        dll.pe.sections.name dns.answers.class dns.answers.data dns.answers.name dns.answers.type
        dns.header_flags dns.id dns.op_code dns.question.class dns.question.name
        dns.question.registered_domain dns.question.subdomain dns.question.top_level_domain
        dns.question.type dns.response_code dns.type ecs.version email.attachments.file.extension
        email.attachments.file.hash.cdhash email.attachments.file.hash.md5
        email.attachments.file.hash.sha1 email.attachments.file.hash.sha256
        email.attachments.file.hash.sha384 email.attachments.file.hash.sha512
        email.attachments.file.hash.ssdeep email.attachments.file.hash.tlsh
        email.attachments.file.mime_type email.attachments.file.name email.bcc.address
        email.cc.address email.content_type email.direction email.from.address email.local_id
        email.reply_to.address email.sender.address email.subject email.to.address email.x_mailer
        entity.attributes.known_redirects entity.attributes.oauth_consent_restriction
        entity.attributes.permissions entity.attributes.storage_class entity.display_name
        entity.id entity.name entity.reference entity.relationships.administers.entity.id
        entity.relationships.administers.host.id entity.relationships.administers.host.name
        entity.relationships.administers.service.id entity.relationships.administers.service.name
        entity.relationships.administers.user.domain entity.relationships.administers.user.email
        entity.relationships.administers.user.id entity.relationships.administers.user.name
        entity.relationships.depends_on.entity.id entity.relationships.depends_on.host.id
        entity.relationships.depends_on.host.name entity.relationships.depends_on.service.id
        entity.relationships.depends_on.service.name entity.relationships.depends_on.user.domain
        entity.relationships.depends_on.user.email entity.relationships.depends_on.user.id
        entity.relationships.depends_on.user.name entity.relationships.owns.entity.id
        entity.relationships.owns.host.id entity.relationships.owns.host.name
        entity.relationships.owns.service.id entity.relationships.owns.service.name
        entity.relationships.owns.user.domain entity.relationships.owns.user.email
        entity.relationships.owns.user.id entity.relationships.owns.user.name
        entity.relationships.supervises.entity.id entity.relationships.supervises.host.id
        entity.relationships.supervises.host.name entity.relationships.supervises.service.id
        entity.relationships.supervises.service.name entity.relationships.supervises.user.domain
        entity.relationships.supervises.user.email entity.relationships.supervises.user.id
        entity.relationships.supervises.user.name entity.source entity.sub_type
        entity.target.attributes.known_redirects
        entity.target.attributes.oauth_consent_restriction entity.target.attributes.permissions
        entity.target.attributes.storage_class entity.target.display_name entity.target.id
        entity.target.name entity.target.reference
        entity.target.relationships.administers.entity.id
        entity.target.relationships.administers.host.id
        entity.target.relationships.administers.host.name
        entity.target.relationships.administers.service.id
        entity.target.relationships.administers.service.name
        entity.target.relationships.administers.user.domain
        entity.target.relationships.administers.user.email
        entity.target.relationships.administers.user.id
        entity.target.relationships.administers.user.name
        entity.target.relationships.depends_on.entity.id
        entity.target.relationships.depends_on.host.id
        entity.target.relationships.depends_on.host.name
        entity.target.relationships.depends_on.service.id
        entity.target.relationships.depends_on.service.name
        entity.target.relationships.depends_on.user.domain
        entity.target.relationships.depends_on.user.email
        entity.target.relationships.depends_on.user.id
        entity.target.relationships.depends_on.user.name
        entity.target.relationships.owns.entity.id entity.target.relationships.owns.host.id
        entity.target.relationships.owns.host.name entity.target.relationships.owns.service.id
        entity.target.relationships.owns.service.name entity.target.relationships.owns.user.domain
        entity.target.relationships.owns.user.email entity.target.relationships.owns.user.id
        entity.target.relationships.owns.user.name
        entity.target.relationships.supervises.entity.id
        entity.target.relationships.supervises.host.id
        entity.target.relationships.supervises.host.name
        entity.target.relationships.supervises.service.id
        entity.target.relationships.supervises.service.name
        entity.target.relationships.supervises.user.domain
        entity.target.relationships.supervises.user.email
        entity.target.relationships.supervises.user.id
        entity.target.relationships.supervises.user.name entity.target.source
        entity.target.sub_type entity.target.type entity.type error.code error.id error.type
        event.action event.agent_id_status event.category event.code event.dataset event.hash
        event.id event.kind event.module event.original event.outcome event.provider event.reason
        event.reference event.timezone event.type event.url faas.execution faas.id faas.name
        faas.trigger.request_id faas.trigger.type faas.version file.attributes
        file.code_signature.digest_algorithm file.code_signature.flags
        file.code_signature.signing_id file.code_signature.status file.code_signature.subject_name
        file.code_signature.team_id file.code_signature.thumbprint_sha256 file.device
        file.directory file.drive_letter file.elf.architecture file.elf.byte_order
        file.elf.cpu_type file.elf.go_import_hash file.elf.header.abi_version
        file.elf.header.class file.elf.header.data file.elf.header.object_version
        file.elf.header.os_abi file.elf.header.type file.elf.header.version file.elf.import_hash
        file.elf.sections.flags file.elf.sections.name file.elf.sections.physical_offset
        file.elf.sections.type file.elf.segments.sections file.elf.segments.type
        file.elf.shared_libraries file.elf.telfhash file.extension file.fork_name file.gid
        file.group file.hash.cdhash file.hash.md5 file.hash.sha1 file.hash.sha256 file.hash.sha384
        file.hash.sha512 file.hash.ssdeep file.hash.tlsh file.inode file.macho.go_import_hash
        file.macho.import_hash file.macho.sections.name file.macho.symhash file.mime_type
        file.mode file.name file.origin_referrer_url file.origin_url file.owner file.path
        file.pe.architecture file.pe.company file.pe.description file.pe.file_version
        file.pe.go_import_hash file.pe.imphash file.pe.import_hash file.pe.original_file_name
        file.pe.pehash file.pe.product file.pe.sections.name file.target_path file.type file.uid
        file.x509.alternative_names file.x509.issuer.common_name file.x509.issuer.country
        file.x509.issuer.distinguished_name file.x509.issuer.locality
        file.x509.issuer.organization file.x509.issuer.organizational_unit
        file.x509.issuer.state_or_province file.x509.public_key_algorithm
        file.x509.public_key_curve file.x509.serial_number file.x509.signature_algorithm
        file.x509.subject.common_name file.x509.subject.country
        file.x509.subject.distinguished_name file.x509.subject.locality
        file.x509.subject.organization file.x509.subject.organizational_unit
        file.x509.subject.state_or_province file.x509.version_number gen_ai.agent.description
        gen_ai.agent.id gen_ai.agent.name gen_ai.operation.name gen_ai.output.type
        gen_ai.request.model gen_ai.response.id gen_ai.response.model gen_ai.system
        gen_ai.token.type gen_ai.tool.call.id gen_ai.tool.name gen_ai.tool.type group.domain
        group.id group.name host.architecture host.boot.id host.domain
        host.entity.attributes.known_redirects host.entity.attributes.oauth_consent_restriction
        host.entity.attributes.permissions host.entity.attributes.storage_class
        host.entity.display_name host.entity.id host.entity.name host.entity.reference
        host.entity.relationships.administers.entity.id
        host.entity.relationships.administers.host.id
        host.entity.relationships.administers.host.name
        host.entity.relationships.administers.service.id
        host.entity.relationships.administers.service.name
        host.entity.relationships.administers.user.domain
        host.entity.relationships.administers.user.email
        host.entity.relationships.administers.user.id
        host.entity.relationships.administers.user.name
        host.entity.relationships.depends_on.entity.id
        host.entity.relationships.depends_on.host.id
        host.entity.relationships.depends_on.host.name
        host.entity.relationships.depends_on.service.id
        host.entity.relationships.depends_on.service.name
        host.entity.relationships.depends_on.user.domain
        host.entity.relationships.depends_on.user.email
        host.entity.relationships.depends_on.user.id
        host.entity.relationships.depends_on.user.name host.entity.relationships.owns.entity.id
        host.entity.relationships.owns.host.id host.entity.relationships.owns.host.name
        host.entity.relationships.owns.service.id host.entity.relationships.owns.service.name
        host.entity.relationships.owns.user.domain host.entity.relationships.owns.user.email
        host.entity.relationships.owns.user.id host.entity.relationships.owns.user.name
        host.entity.relationships.supervises.entity.id
        host.entity.relationships.supervises.host.id
        host.entity.relationships.supervises.host.name
        host.entity.relationships.supervises.service.id
        host.entity.relationships.supervises.service.name
        host.entity.relationships.supervises.user.domain
        host.entity.relationships.supervises.user.email
        host.entity.relationships.supervises.user.id
        host.entity.relationships.supervises.user.name host.entity.source host.entity.sub_type
        host.entity.type host.geo.city_name host.geo.continent_code host.geo.continent_name
        host.geo.country_iso_code host.geo.country_name host.geo.name host.geo.postal_code
        host.geo.region_iso_code host.geo.region_name host.geo.timezone host.hostname host.id
        host.mac host.name host.os.family host.os.full host.os.kernel host.os.name
        host.os.platform host.os.type host.os.version host.pid_ns_ino host.risk.calculated_level
        host.risk.static_level host.target.architecture host.target.boot.id host.target.domain
        host.target.entity.attributes.known_redirects
        host.target.entity.attributes.oauth_consent_restriction
        host.target.entity.attributes.permissions host.target.entity.attributes.storage_class
        host.target.entity.display_name host.target.entity.id host.target.entity.name
        host.target.entity.reference host.target.entity.relationships.administers.entity.id
        host.target.entity.relationships.administers.host.id
        host.target.entity.relationships.administers.host.name
        host.target.entity.relationships.administers.service.id
        host.target.entity.relationships.administers.service.name
        host.target.entity.relationships.administers.user.domain
        host.target.entity.relationships.administers.user.email
        host.target.entity.relationships.administers.user.id
        host.target.entity.relationships.administers.user.name
        host.target.entity.relationships.depends_on.entity.id
        host.target.entity.relationships.depends_on.host.id
        host.target.entity.relationships.depends_on.host.name
        host.target.entity.relationships.depends_on.service.id
        host.target.entity.relationships.depends_on.service.name
        host.target.entity.relationships.depends_on.user.domain
        host.target.entity.relationships.depends_on.user.email
        host.target.entity.relationships.depends_on.user.id
        host.target.entity.relationships.depends_on.user.name
        host.target.entity.relationships.owns.entity.id
        host.target.entity.relationships.owns.host.id
        host.target.entity.relationships.owns.host.name
        host.target.entity.relationships.owns.service.id
        host.target.entity.relationships.owns.service.name
        host.target.entity.relationships.owns.user.domain
        host.target.entity.relationships.owns.user.email
        host.target.entity.relationships.owns.user.id
        host.target.entity.relationships.owns.user.name
        host.target.entity.relationships.supervises.entity.id
        host.target.entity.relationships.supervises.host.id
        host.target.entity.relationships.supervises.host.name
        host.target.entity.relationships.supervises.service.id
        host.target.entity.relationships.supervises.service.name
        host.target.entity.relationships.supervises.user.domain
        host.target.entity.relationships.supervises.user.email
        host.target.entity.relationships.supervises.user.id
        host.target.entity.relationships.supervises.user.name host.target.entity.source
        host.target.entity.sub_type host.target.entity.type host.target.geo.city_name
        host.target.geo.continent_code host.target.geo.continent_name
        host.target.geo.country_iso_code host.target.geo.country_name host.target.geo.name
        host.target.geo.postal_code host.target.geo.region_iso_code host.target.geo.region_name
        host.target.geo.timezone host.target.hostname host.target.id host.target.mac
        host.target.name host.target.os.family host.target.os.full host.target.os.kernel
        host.target.os.name host.target.os.platform host.target.os.type host.target.os.version
        host.target.pid_ns_ino host.target.risk.calculated_level host.target.risk.static_level
        host.target.type host.type http.request.id http.request.method http.request.mime_type
        http.request.referrer http.response.mime_type http.version log.file.path log.level
        log.logger log.origin.file.name log.origin.function log.syslog.appname
        log.syslog.facility.name log.syslog.hostname log.syslog.msgid log.syslog.procid
        log.syslog.severity.name log.syslog.version network.application network.community_id
        network.direction network.iana_number network.inner.vlan.id network.inner.vlan.name
        network.name network.protocol network.transport network.type network.vlan.id
        network.vlan.name observer.egress.interface.alias observer.egress.interface.id
        observer.egress.interface.name observer.egress.vlan.id observer.egress.vlan.name
        observer.egress.zone observer.geo.city_name observer.geo.continent_code
        observer.geo.continent_name observer.geo.country_iso_code observer.geo.country_name
        observer.geo.name observer.geo.postal_code observer.geo.region_iso_code
        observer.geo.region_name observer.geo.timezone observer.hostname
        observer.ingress.interface.alias observer.ingress.interface.id
        observer.ingress.interface.name observer.ingress.vlan.id observer.ingress.vlan.name
        observer.ingress.zone observer.mac observer.name observer.os.family observer.os.full
        observer.os.kernel observer.os.name observer.os.platform observer.os.type
        observer.os.version observer.product observer.serial_number observer.type observer.vendor
        observer.version orchestrator.api_version orchestrator.cluster.id
        orchestrator.cluster.name orchestrator.cluster.url orchestrator.cluster.version
        orchestrator.entity.attributes.known_redirects
        orchestrator.entity.attributes.oauth_consent_restriction
        orchestrator.entity.attributes.permissions orchestrator.entity.attributes.storage_class
        orchestrator.entity.display_name orchestrator.entity.id orchestrator.entity.name
        orchestrator.entity.reference orchestrator.entity.relationships.administers.entity.id
        orchestrator.entity.relationships.administers.host.id
        orchestrator.entity.relationships.administers.host.name
        orchestrator.entity.relationships.administers.service.id
        orchestrator.entity.relationships.administers.service.name
        orchestrator.entity.relationships.administers.user.domain
        orchestrator.entity.relationships.administers.user.email
        orchestrator.entity.relationships.administers.user.id
        orchestrator.entity.relationships.administers.user.name
        orchestrator.entity.relationships.depends_on.entity.id
        orchestrator.entity.relationships.depends_on.host.id
        orchestrator.entity.relationships.depends_on.host.name
        orchestrator.entity.relationships.depends_on.service.id
        orchestrator.entity.relationships.depends_on.service.name
        orchestrator.entity.relationships.depends_on.user.domain
        orchestrator.entity.relationships.depends_on.user.email
        orchestrator.entity.relationships.depends_on.user.id
        orchestrator.entity.relationships.depends_on.user.name
        orchestrator.entity.relationships.owns.entity.id
        orchestrator.entity.relationships.owns.host.id
        orchestrator.entity.relationships.owns.host.name
        orchestrator.entity.relationships.owns.service.id
        orchestrator.entity.relationships.owns.service.name
        orchestrator.entity.relationships.owns.user.domain
        orchestrator.entity.relationships.owns.user.email
        orchestrator.entity.relationships.owns.user.id
        orchestrator.entity.relationships.owns.user.name
        orchestrator.entity.relationships.supervises.entity.id
        orchestrator.entity.relationships.supervises.host.id
        orchestrator.entity.relationships.supervises.host.name
        orchestrator.entity.relationships.supervises.service.id
        orchestrator.entity.relationships.supervises.service.name
        orchestrator.entity.relationships.supervises.user.domain
        orchestrator.entity.relationships.supervises.user.email
        orchestrator.entity.relationships.supervises.user.id
        orchestrator.entity.relationships.supervises.user.name orchestrator.entity.source
        orchestrator.entity.sub_type orchestrator.entity.type orchestrator.namespace
        orchestrator.organization orchestrator.resource.annotation orchestrator.resource.id
        orchestrator.resource.label orchestrator.resource.name orchestrator.resource.parent.type
        orchestrator.resource.type orchestrator.type organization.id organization.name
        package.architecture package.build_version package.checksum package.description
        package.install_scope package.license package.name package.path package.reference
        package.type package.version process.args process.code_signature.digest_algorithm
        process.code_signature.flags process.code_signature.signing_id
        process.code_signature.status process.code_signature.subject_name
        process.code_signature.team_id process.code_signature.thumbprint_sha256
        process.elf.architecture process.elf.byte_order process.elf.cpu_type
        process.elf.go_import_hash process.elf.header.abi_version process.elf.header.class
        process.elf.header.data process.elf.header.object_version process.elf.header.os_abi
        process.elf.header.type process.elf.header.version process.elf.import_hash
        process.elf.sections.flags process.elf.sections.name process.elf.sections.physical_offset
        process.elf.sections.type process.elf.segments.sections process.elf.segments.type
        process.elf.shared_libraries process.elf.telfhash process.entity_id
        process.entry_leader.args process.entry_leader.attested_groups.name
        process.entry_leader.attested_user.id process.entry_leader.attested_user.name
        process.entry_leader.entity_id process.entry_leader.entry_meta.type
        process.entry_leader.executable process.entry_leader.group.id
        process.entry_leader.group.name process.entry_leader.name
        process.entry_leader.parent.entity_id process.entry_leader.parent.session_leader.entity_id
        process.entry_leader.real_group.id process.entry_leader.real_group.name
        process.entry_leader.real_user.id process.entry_leader.real_user.name
        process.entry_leader.saved_group.id process.entry_leader.saved_group.name
        process.entry_leader.saved_user.id process.entry_leader.saved_user.name
        process.entry_leader.supplemental_groups.id process.entry_leader.supplemental_groups.name
        process.entry_leader.user.id process.entry_leader.user.name
        process.entry_leader.working_directory process.env_vars process.executable
        process.group.id process.group.name process.group_leader.args
        process.group_leader.entity_id process.group_leader.executable
        process.group_leader.group.id process.group_leader.group.name process.group_leader.name
        process.group_leader.real_group.id process.group_leader.real_group.name
        process.group_leader.real_user.id process.group_leader.real_user.name
        process.group_leader.saved_group.id process.group_leader.saved_group.name
        process.group_leader.saved_user.id process.group_leader.saved_user.name
        process.group_leader.supplemental_groups.id process.group_leader.supplemental_groups.name
        process.group_leader.user.id process.group_leader.user.name
        process.group_leader.working_directory process.hash.cdhash process.hash.md5
        process.hash.sha1 process.hash.sha256 process.hash.sha384 process.hash.sha512
        process.hash.ssdeep process.hash.tlsh process.io.type process.macho.go_import_hash
        process.macho.import_hash process.macho.sections.name process.macho.symhash process.name
        process.parent.args process.parent.code_signature.digest_algorithm
        process.parent.code_signature.flags process.parent.code_signature.signing_id
        process.parent.code_signature.status process.parent.code_signature.subject_name
        process.parent.code_signature.team_id process.parent.code_signature.thumbprint_sha256
        process.parent.elf.architecture process.parent.elf.byte_order process.parent.elf.cpu_type
        process.parent.elf.go_import_hash process.parent.elf.header.abi_version
        process.parent.elf.header.class process.parent.elf.header.data
        process.parent.elf.header.object_version process.parent.elf.header.os_abi
        process.parent.elf.header.type process.parent.elf.header.version
        process.parent.elf.import_hash process.parent.elf.sections.flags
        process.parent.elf.sections.name process.parent.elf.sections.physical_offset
        process.parent.elf.sections.type process.parent.elf.segments.sections
        process.parent.elf.segments.type process.parent.elf.shared_libraries
        process.parent.elf.telfhash process.parent.entity_id process.parent.executable
        process.parent.group.id process.parent.group.name process.parent.group_leader.entity_id
        process.parent.hash.cdhash process.parent.hash.md5 process.parent.hash.sha1
        process.parent.hash.sha256 process.parent.hash.sha384 process.parent.hash.sha512
        process.parent.hash.ssdeep process.parent.hash.tlsh process.parent.macho.go_import_hash
        process.parent.macho.import_hash process.parent.macho.sections.name
        process.parent.macho.symhash process.parent.name process.parent.pe.architecture
        process.parent.pe.company process.parent.pe.description process.parent.pe.file_version
        process.parent.pe.go_import_hash process.parent.pe.imphash process.parent.pe.import_hash
        process.parent.pe.original_file_name process.parent.pe.pehash process.parent.pe.product
        process.parent.pe.sections.name process.parent.real_group.id
        process.parent.real_group.name process.parent.real_user.id process.parent.real_user.name
        process.parent.saved_group.id process.parent.saved_group.name process.parent.saved_user.id
        process.parent.saved_user.name process.parent.supplemental_groups.id
        process.parent.supplemental_groups.name process.parent.thread.capabilities.effective
        process.parent.thread.capabilities.permitted process.parent.thread.name
        process.parent.title process.parent.user.id process.parent.user.name
        process.parent.working_directory process.pe.architecture process.pe.company
        process.pe.description process.pe.file_version process.pe.go_import_hash
        process.pe.imphash process.pe.import_hash process.pe.original_file_name process.pe.pehash
        process.pe.product process.pe.sections.name process.previous.args
        process.previous.executable process.real_group.id process.real_group.name
        process.real_user.id process.real_user.name process.saved_group.id
        process.saved_group.name process.saved_user.id process.saved_user.name
        process.session_leader.args process.session_leader.entity_id
        process.session_leader.executable process.session_leader.group.id
        process.session_leader.group.name process.session_leader.name
        process.session_leader.parent.entity_id
        process.session_leader.parent.session_leader.entity_id
        process.session_leader.real_group.id process.session_leader.real_group.name
        process.session_leader.real_user.id process.session_leader.real_user.name
        process.session_leader.saved_group.id process.session_leader.saved_group.name
        process.session_leader.saved_user.id process.session_leader.saved_user.name
        process.session_leader.supplemental_groups.id
        process.session_leader.supplemental_groups.name process.session_leader.user.id
        process.session_leader.user.name process.session_leader.working_directory
        process.supplemental_groups.id process.supplemental_groups.name
        process.thread.capabilities.effective process.thread.capabilities.permitted
        process.thread.name process.title process.user.id process.user.name
        process.working_directory registry.data.bytes registry.data.type registry.hive
        registry.key registry.path registry.value related.hash related.hosts related.user
        rule.author rule.category rule.description rule.id rule.license rule.name rule.reference
        rule.ruleset rule.uuid rule.version server.address server.as.organization.name
        server.domain server.geo.city_name server.geo.continent_code server.geo.continent_name
        server.geo.country_iso_code server.geo.country_name server.geo.name server.geo.postal_code
        server.geo.region_iso_code server.geo.region_name server.geo.timezone server.mac
        server.registered_domain server.subdomain server.top_level_domain server.user.domain
        server.user.email server.user.full_name server.user.group.domain server.user.group.id
        server.user.group.name server.user.hash server.user.id server.user.name server.user.roles
        service.address service.entity.attributes.known_redirects
        service.entity.attributes.oauth_consent_restriction service.entity.attributes.permissions
        service.entity.attributes.storage_class service.entity.display_name service.entity.id
        service.entity.name service.entity.reference
        service.entity.relationships.administers.entity.id
        service.entity.relationships.administers.host.id
        service.entity.relationships.administers.host.name
        service.entity.relationships.administers.service.id
        service.entity.relationships.administers.service.name
        service.entity.relationships.administers.user.domain
        service.entity.relationships.administers.user.email
        service.entity.relationships.administers.user.id
        service.entity.relationships.administers.user.name
        service.entity.relationships.depends_on.entity.id
        service.entity.relationships.depends_on.host.id
        service.entity.relationships.depends_on.host.name
        service.entity.relationships.depends_on.service.id
        service.entity.relationships.depends_on.service.name
        service.entity.relationships.depends_on.user.domain
        service.entity.relationships.depends_on.user.email
        service.entity.relationships.depends_on.user.id
        service.entity.relationships.depends_on.user.name
        service.entity.relationships.owns.entity.id service.entity.relationships.owns.host.id
        service.entity.relationships.owns.host.name service.entity.relationships.owns.service.id
        service.entity.relationships.owns.service.name
        service.entity.relationships.owns.user.domain service.entity.relationships.owns.user.email
        service.entity.relationships.owns.user.id service.entity.relationships.owns.user.name
        service.entity.relationships.supervises.entity.id
        service.entity.relationships.supervises.host.id
        service.entity.relationships.supervises.host.name
        service.entity.relationships.supervises.service.id
        service.entity.relationships.supervises.service.name
        service.entity.relationships.supervises.user.domain
        service.entity.relationships.supervises.user.email
        service.entity.relationships.supervises.user.id
        service.entity.relationships.supervises.user.name service.entity.source
        service.entity.sub_type service.entity.type service.environment service.ephemeral_id
        service.id service.name service.node.name service.node.role service.node.roles
        service.origin.address service.origin.entity.attributes.known_redirects
        service.origin.entity.attributes.oauth_consent_restriction
        service.origin.entity.attributes.permissions
        service.origin.entity.attributes.storage_class service.origin.entity.display_name
        service.origin.entity.id service.origin.entity.name service.origin.entity.reference
        service.origin.entity.relationships.administers.entity.id
        service.origin.entity.relationships.administers.host.id
        service.origin.entity.relationships.administers.host.name
        service.origin.entity.relationships.administers.service.id
        service.origin.entity.relationships.administers.service.name
        service.origin.entity.relationships.administers.user.domain
        service.origin.entity.relationships.administers.user.email
        service.origin.entity.relationships.administers.user.id
        service.origin.entity.relationships.administers.user.name
        service.origin.entity.relationships.depends_on.entity.id
        service.origin.entity.relationships.depends_on.host.id
        service.origin.entity.relationships.depends_on.host.name
        service.origin.entity.relationships.depends_on.service.id
        service.origin.entity.relationships.depends_on.service.name
        service.origin.entity.relationships.depends_on.user.domain
        service.origin.entity.relationships.depends_on.user.email
        service.origin.entity.relationships.depends_on.user.id
        service.origin.entity.relationships.depends_on.user.name
        service.origin.entity.relationships.owns.entity.id
        service.origin.entity.relationships.owns.host.id
        service.origin.entity.relationships.owns.host.name
        service.origin.entity.relationships.owns.service.id
        service.origin.entity.relationships.owns.service.name
        service.origin.entity.relationships.owns.user.domain
        service.origin.entity.relationships.owns.user.email
        service.origin.entity.relationships.owns.user.id
        service.origin.entity.relationships.owns.user.name
        service.origin.entity.relationships.supervises.entity.id
        service.origin.entity.relationships.supervises.host.id
        service.origin.entity.relationships.supervises.host.name
        service.origin.entity.relationships.supervises.service.id
        service.origin.entity.relationships.supervises.service.name
        service.origin.entity.relationships.supervises.user.domain
        service.origin.entity.relationships.supervises.user.email
        service.origin.entity.relationships.supervises.user.id
        service.origin.entity.relationships.supervises.user.name service.origin.entity.source
        service.origin.entity.sub_type service.origin.entity.type service.origin.environment
        service.origin.ephemeral_id service.origin.id service.origin.name service.origin.node.name
        service.origin.node.role service.origin.node.roles service.origin.state
        service.origin.type service.origin.version service.state service.target.address
        service.target.entity.attributes.known_redirects
        service.target.entity.attributes.oauth_consent_restriction
        service.target.entity.attributes.permissions
        service.target.entity.attributes.storage_class service.target.entity.display_name
        service.target.entity.id service.target.entity.name service.target.entity.reference
        service.target.entity.relationships.administers.entity.id
        service.target.entity.relationships.administers.host.id
        service.target.entity.relationships.administers.host.name
        service.target.entity.relationships.administers.service.id
        service.target.entity.relationships.administers.service.name
        service.target.entity.relationships.administers.user.domain
        service.target.entity.relationships.administers.user.email
        service.target.entity.relationships.administers.user.id
        service.target.entity.relationships.administers.user.name
        service.target.entity.relationships.depends_on.entity.id
        service.target.entity.relationships.depends_on.host.id
        service.target.entity.relationships.depends_on.host.name
        service.target.entity.relationships.depends_on.service.id
        service.target.entity.relationships.depends_on.service.name
        service.target.entity.relationships.depends_on.user.domain
        service.target.entity.relationships.depends_on.user.email
        service.target.entity.relationships.depends_on.user.id
        service.target.entity.relationships.depends_on.user.name
        service.target.entity.relationships.owns.entity.id
        service.target.entity.relationships.owns.host.id
        service.target.entity.relationships.owns.host.name
        service.target.entity.relationships.owns.service.id
        service.target.entity.relationships.owns.service.name
        service.target.entity.relationships.owns.user.domain
        service.target.entity.relationships.owns.user.email
        service.target.entity.relationships.owns.user.id
        service.target.entity.relationships.owns.user.name
        service.target.entity.relationships.supervises.entity.id
        service.target.entity.relationships.supervises.host.id
        service.target.entity.relationships.supervises.host.name
        service.target.entity.relationships.supervises.service.id
        service.target.entity.relationships.supervises.service.name
        service.target.entity.relationships.supervises.user.domain
        service.target.entity.relationships.supervises.user.email
        service.target.entity.relationships.supervises.user.id
        service.target.entity.relationships.supervises.user.name service.target.entity.source
        service.target.entity.sub_type service.target.entity.type service.target.environment
        service.target.ephemeral_id service.target.id service.target.name service.target.node.name
        service.target.node.role service.target.node.roles service.target.state
        service.target.type service.target.version service.type service.version source.address
        source.as.organization.name source.domain source.geo.city_name source.geo.continent_code
        source.geo.continent_name source.geo.country_iso_code source.geo.country_name
        source.geo.name source.geo.postal_code source.geo.region_iso_code source.geo.region_name
        source.geo.timezone source.mac source.registered_domain source.subdomain
        source.top_level_domain source.user.domain source.user.email source.user.full_name
        source.user.group.domain source.user.group.id source.user.group.name source.user.hash
        source.user.id source.user.name source.user.roles span.id tags
        threat.enrichments.indicator.as.organization.name threat.enrichments.indicator.confidence
        threat.enrichments.indicator.description threat.enrichments.indicator.email.address
        threat.enrichments.indicator.file.attributes
        threat.enrichments.indicator.file.code_signature.digest_algorithm
        threat.enrichments.indicator.file.code_signature.flags
        threat.enrichments.indicator.file.code_signature.signing_id
        threat.enrichments.indicator.file.code_signature.status
        threat.enrichments.indicator.file.code_signature.subject_name
        threat.enrichments.indicator.file.code_signature.team_id
        threat.enrichments.indicator.file.code_signature.thumbprint_sha256
        threat.enrichments.indicator.file.device threat.enrichments.indicator.file.directory
        threat.enrichments.indicator.file.drive_letter
        threat.enrichments.indicator.file.elf.architecture
        threat.enrichments.indicator.file.elf.byte_order
        threat.enrichments.indicator.file.elf.cpu_type
        threat.enrichments.indicator.file.elf.go_import_hash
        threat.enrichments.indicator.file.elf.header.abi_version
        threat.enrichments.indicator.file.elf.header.class
        threat.enrichments.indicator.file.elf.header.data
        threat.enrichments.indicator.file.elf.header.object_version
        threat.enrichments.indicator.file.elf.header.os_abi
        threat.enrichments.indicator.file.elf.header.type
        threat.enrichments.indicator.file.elf.header.version
        threat.enrichments.indicator.file.elf.import_hash
        threat.enrichments.indicator.file.elf.sections.flags
        threat.enrichments.indicator.file.elf.sections.name
        threat.enrichments.indicator.file.elf.sections.physical_offset
        threat.enrichments.indicator.file.elf.sections.type
        threat.enrichments.indicator.file.elf.segments.sections
        threat.enrichments.indicator.file.elf.segments.type
        threat.enrichments.indicator.file.elf.shared_libraries
        threat.enrichments.indicator.file.elf.telfhash threat.enrichments.indicator.file.extension
        threat.enrichments.indicator.file.fork_name threat.enrichments.indicator.file.gid
        threat.enrichments.indicator.file.group threat.enrichments.indicator.file.hash.cdhash
        threat.enrichments.indicator.file.hash.md5 threat.enrichments.indicator.file.hash.sha1
        threat.enrichments.indicator.file.hash.sha256
        threat.enrichments.indicator.file.hash.sha384
        threat.enrichments.indicator.file.hash.sha512
        threat.enrichments.indicator.file.hash.ssdeep threat.enrichments.indicator.file.hash.tlsh
        threat.enrichments.indicator.file.inode threat.enrichments.indicator.file.mime_type
        threat.enrichments.indicator.file.mode threat.enrichments.indicator.file.name
        threat.enrichments.indicator.file.origin_referrer_url
        threat.enrichments.indicator.file.origin_url threat.enrichments.indicator.file.owner
        threat.enrichments.indicator.file.path threat.enrichments.indicator.file.pe.architecture
        threat.enrichments.indicator.file.pe.company
        threat.enrichments.indicator.file.pe.description
        threat.enrichments.indicator.file.pe.file_version
        threat.enrichments.indicator.file.pe.go_import_hash
        threat.enrichments.indicator.file.pe.imphash
        threat.enrichments.indicator.file.pe.import_hash
        threat.enrichments.indicator.file.pe.original_file_name
        threat.enrichments.indicator.file.pe.pehash threat.enrichments.indicator.file.pe.product
        threat.enrichments.indicator.file.pe.sections.name
        threat.enrichments.indicator.file.target_path threat.enrichments.indicator.file.type
        threat.enrichments.indicator.file.uid
        threat.enrichments.indicator.file.x509.alternative_names
        threat.enrichments.indicator.file.x509.issuer.common_name
        threat.enrichments.indicator.file.x509.issuer.country
        threat.enrichments.indicator.file.x509.issuer.distinguished_name
        threat.enrichments.indicator.file.x509.issuer.locality
        threat.enrichments.indicator.file.x509.issuer.organization
        threat.enrichments.indicator.file.x509.issuer.organizational_unit
        threat.enrichments.indicator.file.x509.issuer.state_or_province
        threat.enrichments.indicator.file.x509.public_key_algorithm
        threat.enrichments.indicator.file.x509.public_key_curve
        threat.enrichments.indicator.file.x509.serial_number
        threat.enrichments.indicator.file.x509.signature_algorithm
        threat.enrichments.indicator.file.x509.subject.common_name
        threat.enrichments.indicator.file.x509.subject.country
        threat.enrichments.indicator.file.x509.subject.distinguished_name
        threat.enrichments.indicator.file.x509.subject.locality
        threat.enrichments.indicator.file.x509.subject.organization
        threat.enrichments.indicator.file.x509.subject.organizational_unit
        threat.enrichments.indicator.file.x509.subject.state_or_province
        threat.enrichments.indicator.file.x509.version_number
        threat.enrichments.indicator.geo.city_name threat.enrichments.indicator.geo.continent_code
        threat.enrichments.indicator.geo.continent_name
        threat.enrichments.indicator.geo.country_iso_code
        threat.enrichments.indicator.geo.country_name threat.enrichments.indicator.geo.name
        threat.enrichments.indicator.geo.postal_code
        threat.enrichments.indicator.geo.region_iso_code
        threat.enrichments.indicator.geo.region_name threat.enrichments.indicator.geo.timezone
        threat.enrichments.indicator.marking.tlp threat.enrichments.indicator.marking.tlp_version
        threat.enrichments.indicator.name threat.enrichments.indicator.provider
        threat.enrichments.indicator.reference threat.enrichments.indicator.registry.data.bytes
        threat.enrichments.indicator.registry.data.type threat.enrichments.indicator.registry.hive
        threat.enrichments.indicator.registry.key threat.enrichments.indicator.registry.path
        threat.enrichments.indicator.registry.value threat.enrichments.indicator.type
        threat.enrichments.indicator.url.domain threat.enrichments.indicator.url.extension
        threat.enrichments.indicator.url.fragment threat.enrichments.indicator.url.password
        threat.enrichments.indicator.url.query threat.enrichments.indicator.url.registered_domain
        threat.enrichments.indicator.url.scheme threat.enrichments.indicator.url.subdomain
        threat.enrichments.indicator.url.top_level_domain
        threat.enrichments.indicator.url.username
        threat.enrichments.indicator.x509.alternative_names
        threat.enrichments.indicator.x509.issuer.common_name
        threat.enrichments.indicator.x509.issuer.country
        threat.enrichments.indicator.x509.issuer.distinguished_name
        threat.enrichments.indicator.x509.issuer.locality
        threat.enrichments.indicator.x509.issuer.organization
        threat.enrichments.indicator.x509.issuer.organizational_unit
        threat.enrichments.indicator.x509.issuer.state_or_province
        threat.enrichments.indicator.x509.public_key_algorithm
        threat.enrichments.indicator.x509.public_key_curve
        threat.enrichments.indicator.x509.serial_number
        threat.enrichments.indicator.x509.signature_algorithm
        threat.enrichments.indicator.x509.subject.common_name
        threat.enrichments.indicator.x509.subject.country
        threat.enrichments.indicator.x509.subject.distinguished_name
        threat.enrichments.indicator.x509.subject.locality
        threat.enrichments.indicator.x509.subject.organization
        threat.enrichments.indicator.x509.subject.organizational_unit
        threat.enrichments.indicator.x509.subject.state_or_province
        threat.enrichments.indicator.x509.version_number threat.enrichments.matched.atomic
        threat.enrichments.matched.field threat.enrichments.matched.id
        threat.enrichments.matched.index threat.enrichments.matched.type threat.feed.dashboard_id
        threat.feed.description threat.feed.name threat.feed.reference threat.framework
        threat.group.alias threat.group.id threat.group.name threat.group.reference
        threat.indicator.as.organization.name threat.indicator.confidence
        threat.indicator.description threat.indicator.email.address
        threat.indicator.file.attributes threat.indicator.file.code_signature.digest_algorithm
        threat.indicator.file.code_signature.flags threat.indicator.file.code_signature.signing_id
        threat.indicator.file.code_signature.status
        threat.indicator.file.code_signature.subject_name
        threat.indicator.file.code_signature.team_id
        threat.indicator.file.code_signature.thumbprint_sha256 threat.indicator.file.device
        threat.indicator.file.directory threat.indicator.file.drive_letter
        threat.indicator.file.elf.architecture threat.indicator.file.elf.byte_order
        threat.indicator.file.elf.cpu_type threat.indicator.file.elf.go_import_hash
        threat.indicator.file.elf.header.abi_version threat.indicator.file.elf.header.class
        threat.indicator.file.elf.header.data threat.indicator.file.elf.header.object_version
        threat.indicator.file.elf.header.os_abi threat.indicator.file.elf.header.type
        threat.indicator.file.elf.header.version threat.indicator.file.elf.import_hash
        threat.indicator.file.elf.sections.flags threat.indicator.file.elf.sections.name
        threat.indicator.file.elf.sections.physical_offset threat.indicator.file.elf.sections.type
        threat.indicator.file.elf.segments.sections threat.indicator.file.elf.segments.type
        threat.indicator.file.elf.shared_libraries threat.indicator.file.elf.telfhash
        threat.indicator.file.extension threat.indicator.file.fork_name threat.indicator.file.gid
        threat.indicator.file.group threat.indicator.file.hash.cdhash
        threat.indicator.file.hash.md5 threat.indicator.file.hash.sha1
        threat.indicator.file.hash.sha256 threat.indicator.file.hash.sha384
        threat.indicator.file.hash.sha512 threat.indicator.file.hash.ssdeep
        threat.indicator.file.hash.tlsh threat.indicator.file.inode
        threat.indicator.file.mime_type threat.indicator.file.mode threat.indicator.file.name
        threat.indicator.file.origin_referrer_url threat.indicator.file.origin_url
        threat.indicator.file.owner threat.indicator.file.path
        threat.indicator.file.pe.architecture threat.indicator.file.pe.company
        threat.indicator.file.pe.description threat.indicator.file.pe.file_version
        threat.indicator.file.pe.go_import_hash threat.indicator.file.pe.imphash
        threat.indicator.file.pe.import_hash threat.indicator.file.pe.original_file_name
        threat.indicator.file.pe.pehash threat.indicator.file.pe.product
        threat.indicator.file.pe.sections.name threat.indicator.file.target_path
        threat.indicator.file.type threat.indicator.file.uid
        threat.indicator.file.x509.alternative_names threat.indicator.file.x509.issuer.common_name
        threat.indicator.file.x509.issuer.country
        threat.indicator.file.x509.issuer.distinguished_name
        threat.indicator.file.x509.issuer.locality threat.indicator.file.x509.issuer.organization
        threat.indicator.file.x509.issuer.organizational_unit
        threat.indicator.file.x509.issuer.state_or_province
        threat.indicator.file.x509.public_key_algorithm
        threat.indicator.file.x509.public_key_curve threat.indicator.file.x509.serial_number
        threat.indicator.file.x509.signature_algorithm
        threat.indicator.file.x509.subject.common_name threat.indicator.file.x509.subject.country
        threat.indicator.file.x509.subject.distinguished_name
        threat.indicator.file.x509.subject.locality
        threat.indicator.file.x509.subject.organization
        threat.indicator.file.x509.subject.organizational_unit
        threat.indicator.file.x509.subject.state_or_province
        threat.indicator.file.x509.version_number threat.indicator.geo.city_name
        threat.indicator.geo.continent_code threat.indicator.geo.continent_name
        threat.indicator.geo.country_iso_code threat.indicator.geo.country_name
        threat.indicator.geo.name threat.indicator.geo.postal_code
        threat.indicator.geo.region_iso_code threat.indicator.geo.region_name
        threat.indicator.geo.timezone threat.indicator.id threat.indicator.marking.tlp
        threat.indicator.marking.tlp_version threat.indicator.name threat.indicator.provider
        threat.indicator.reference threat.indicator.registry.data.bytes
        threat.indicator.registry.data.type threat.indicator.registry.hive
        threat.indicator.registry.key threat.indicator.registry.path
        threat.indicator.registry.value threat.indicator.type threat.indicator.url.domain
        threat.indicator.url.extension threat.indicator.url.fragment threat.indicator.url.password
        threat.indicator.url.query threat.indicator.url.registered_domain
        threat.indicator.url.scheme threat.indicator.url.subdomain
        threat.indicator.url.top_level_domain threat.indicator.url.username
        threat.indicator.x509.alternative_names threat.indicator.x509.issuer.common_name
        threat.indicator.x509.issuer.country threat.indicator.x509.issuer.distinguished_name
        threat.indicator.x509.issuer.locality threat.indicator.x509.issuer.organization
        threat.indicator.x509.issuer.organizational_unit
        threat.indicator.x509.issuer.state_or_province threat.indicator.x509.public_key_algorithm
        threat.indicator.x509.public_key_curve threat.indicator.x509.serial_number
        threat.indicator.x509.signature_algorithm threat.indicator.x509.subject.common_name
        threat.indicator.x509.subject.country threat.indicator.x509.subject.distinguished_name
        threat.indicator.x509.subject.locality threat.indicator.x509.subject.organization
        threat.indicator.x509.subject.organizational_unit
        threat.indicator.x509.subject.state_or_province threat.indicator.x509.version_number
        threat.software.alias threat.software.id threat.software.name threat.software.platforms
        threat.software.reference threat.software.type threat.tactic.id threat.tactic.name
        threat.tactic.reference threat.technique.id threat.technique.name
        threat.technique.reference threat.technique.subtechnique.id
        threat.technique.subtechnique.name threat.technique.subtechnique.reference tls.cipher
        tls.client.certificate tls.client.certificate_chain tls.client.hash.md5
        tls.client.hash.sha1 tls.client.hash.sha256 tls.client.issuer tls.client.ja3
        tls.client.server_name tls.client.subject tls.client.supported_ciphers
        tls.client.x509.alternative_names tls.client.x509.issuer.common_name
        tls.client.x509.issuer.country tls.client.x509.issuer.distinguished_name
        tls.client.x509.issuer.locality tls.client.x509.issuer.organization
        tls.client.x509.issuer.organizational_unit tls.client.x509.issuer.state_or_province
        tls.client.x509.public_key_algorithm tls.client.x509.public_key_curve
        tls.client.x509.serial_number tls.client.x509.signature_algorithm
        tls.client.x509.subject.common_name tls.client.x509.subject.country
        tls.client.x509.subject.distinguished_name tls.client.x509.subject.locality
        tls.client.x509.subject.organization tls.client.x509.subject.organizational_unit
        tls.client.x509.subject.state_or_province tls.client.x509.version_number tls.curve
        tls.next_protocol tls.server.certificate tls.server.certificate_chain tls.server.hash.md5
        tls.server.hash.sha1 tls.server.hash.sha256 tls.server.issuer tls.server.ja3s
        tls.server.subject tls.server.x509.alternative_names tls.server.x509.issuer.common_name
        tls.server.x509.issuer.country tls.server.x509.issuer.distinguished_name
        tls.server.x509.issuer.locality tls.server.x509.issuer.organization
        tls.server.x509.issuer.organizational_unit tls.server.x509.issuer.state_or_province
        tls.server.x509.public_key_algorithm tls.server.x509.public_key_curve
        tls.server.x509.serial_number tls.server.x509.signature_algorithm
        tls.server.x509.subject.common_name tls.server.x509.subject.country
        tls.server.x509.subject.distinguished_name tls.server.x509.subject.locality
        tls.server.x509.subject.organization tls.server.x509.subject.organizational_unit
        tls.server.x509.subject.state_or_province tls.server.x509.version_number tls.version
        tls.version_protocol trace.id transaction.id url.domain url.extension url.fragment
        url.password url.query url.registered_domain url.scheme url.subdomain url.top_level_domain
        url.username user.changes.domain user.changes.email
        user.changes.entity.attributes.known_redirects
        user.changes.entity.attributes.oauth_consent_restriction
        user.changes.entity.attributes.permissions user.changes.entity.attributes.storage_class
        user.changes.entity.display_name user.changes.entity.id user.changes.entity.name
        user.changes.entity.reference user.changes.entity.relationships.administers.entity.id
        user.changes.entity.relationships.administers.host.id
        user.changes.entity.relationships.administers.host.name
        user.changes.entity.relationships.administers.service.id
        user.changes.entity.relationships.administers.service.name
        user.changes.entity.relationships.administers.user.domain
        user.changes.entity.relationships.administers.user.email
        user.changes.entity.relationships.administers.user.id
        user.changes.entity.relationships.administers.user.name
        user.changes.entity.relationships.depends_on.entity.id
        user.changes.entity.relationships.depends_on.host.id
        user.changes.entity.relationships.depends_on.host.name
        user.changes.entity.relationships.depends_on.service.id
        user.changes.entity.relationships.depends_on.service.name
        user.changes.entity.relationships.depends_on.user.domain
        user.changes.entity.relationships.depends_on.user.email
        user.changes.entity.relationships.depends_on.user.id
        user.changes.entity.relationships.depends_on.user.name
        user.changes.entity.relationships.owns.entity.id
        user.changes.entity.relationships.owns.host.id
        user.changes.entity.relationships.owns.host.name
        user.changes.entity.relationships.owns.service.id
        user.changes.entity.relationships.owns.service.name
        user.changes.entity.relationships.owns.user.domain
        user.changes.entity.relationships.owns.user.email
        user.changes.entity.relationships.owns.user.id
        user.changes.entity.relationships.owns.user.name
        user.changes.entity.relationships.supervises.entity.id
        user.changes.entity.relationships.supervises.host.id
        user.changes.entity.relationships.supervises.host.name
        user.changes.entity.relationships.supervises.service.id
        user.changes.entity.relationships.supervises.service.name
        user.changes.entity.relationships.supervises.user.domain
        user.changes.entity.relationships.supervises.user.email
        user.changes.entity.relationships.supervises.user.id
        user.changes.entity.relationships.supervises.user.name user.changes.entity.source
        user.changes.entity.sub_type user.changes.entity.type user.changes.full_name
        user.changes.group.domain user.changes.group.id user.changes.group.name user.changes.hash
        user.changes.id user.changes.name user.changes.risk.calculated_level
        user.changes.risk.static_level user.changes.roles user.domain user.effective.domain
        user.effective.email user.effective.entity.attributes.known_redirects
        user.effective.entity.attributes.oauth_consent_restriction
        user.effective.entity.attributes.permissions
        user.effective.entity.attributes.storage_class user.effective.entity.display_name
        user.effective.entity.id user.effective.entity.name user.effective.entity.reference
        user.effective.entity.relationships.administers.entity.id
        user.effective.entity.relationships.administers.host.id
        user.effective.entity.relationships.administers.host.name
        user.effective.entity.relationships.administers.service.id
        user.effective.entity.relationships.administers.service.name
        user.effective.entity.relationships.administers.user.domain
        user.effective.entity.relationships.administers.user.email
        user.effective.entity.relationships.administers.user.id
        user.effective.entity.relationships.administers.user.name
        user.effective.entity.relationships.depends_on.entity.id
        user.effective.entity.relationships.depends_on.host.id
        user.effective.entity.relationships.depends_on.host.name
        user.effective.entity.relationships.depends_on.service.id
        user.effective.entity.relationships.depends_on.service.name
        user.effective.entity.relationships.depends_on.user.domain
        user.effective.entity.relationships.depends_on.user.email
        user.effective.entity.relationships.depends_on.user.id
        user.effective.entity.relationships.depends_on.user.name
        user.effective.entity.relationships.owns.entity.id
        user.effective.entity.relationships.owns.host.id
        user.effective.entity.relationships.owns.host.name
        user.effective.entity.relationships.owns.service.id
        user.effective.entity.relationships.owns.service.name
        user.effective.entity.relationships.owns.user.domain
        user.effective.entity.relationships.owns.user.email
        user.effective.entity.relationships.owns.user.id
        user.effective.entity.relationships.owns.user.name
        user.effective.entity.relationships.supervises.entity.id
        user.effective.entity.relationships.supervises.host.id
        user.effective.entity.relationships.supervises.host.name
        user.effective.entity.relationships.supervises.service.id
        user.effective.entity.relationships.supervises.service.name
        user.effective.entity.relationships.supervises.user.domain
        user.effective.entity.relationships.supervises.user.email
        user.effective.entity.relationships.supervises.user.id
        user.effective.entity.relationships.supervises.user.name user.effective.entity.source
        user.effective.entity.sub_type user.effective.entity.type user.effective.full_name
        user.effective.group.domain user.effective.group.id user.effective.group.name
        user.effective.hash user.effective.id user.effective.name
        user.effective.risk.calculated_level user.effective.risk.static_level user.effective.roles
        user.email user.entity.attributes.known_redirects
        user.entity.attributes.oauth_consent_restriction user.entity.attributes.permissions
        user.entity.attributes.storage_class user.entity.display_name user.entity.id
        user.entity.name user.entity.reference user.entity.relationships.administers.entity.id
        user.entity.relationships.administers.host.id
        user.entity.relationships.administers.host.name
        user.entity.relationships.administers.service.id
        user.entity.relationships.administers.service.name
        user.entity.relationships.administers.user.domain
        user.entity.relationships.administers.user.email
        user.entity.relationships.administers.user.id
        user.entity.relationships.administers.user.name
        user.entity.relationships.depends_on.entity.id
        user.entity.relationships.depends_on.host.id
        user.entity.relationships.depends_on.host.name
        user.entity.relationships.depends_on.service.id
        user.entity.relationships.depends_on.service.name
        user.entity.relationships.depends_on.user.domain
        user.entity.relationships.depends_on.user.email
        user.entity.relationships.depends_on.user.id
        user.entity.relationships.depends_on.user.name user.entity.relationships.owns.entity.id
        user.entity.relationships.owns.host.id user.entity.relationships.owns.host.name
        user.entity.relationships.owns.service.id user.entity.relationships.owns.service.name
        user.entity.relationships.owns.user.domain user.entity.relationships.owns.user.email
        user.entity.relationships.owns.user.id user.entity.relationships.owns.user.name
        user.entity.relationships.supervises.entity.id
        user.entity.relationships.supervises.host.id
        user.entity.relationships.supervises.host.name
        user.entity.relationships.supervises.service.id
        user.entity.relationships.supervises.service.name
        user.entity.relationships.supervises.user.domain
        user.entity.relationships.supervises.user.email
        user.entity.relationships.supervises.user.id
        user.entity.relationships.supervises.user.name user.entity.source user.entity.sub_type
        user.entity.type user.full_name user.group.domain user.group.id user.group.name user.hash
        user.id user.name user.risk.calculated_level user.risk.static_level user.roles
        user.target.domain user.target.email user.target.entity.attributes.known_redirects
        user.target.entity.attributes.oauth_consent_restriction
        user.target.entity.attributes.permissions user.target.entity.attributes.storage_class
        user.target.entity.display_name user.target.entity.id user.target.entity.name
        user.target.entity.reference user.target.entity.relationships.administers.entity.id
        user.target.entity.relationships.administers.host.id
        user.target.entity.relationships.administers.host.name
        user.target.entity.relationships.administers.service.id
        user.target.entity.relationships.administers.service.name
        user.target.entity.relationships.administers.user.domain
        user.target.entity.relationships.administers.user.email
        user.target.entity.relationships.administers.user.id
        user.target.entity.relationships.administers.user.name
        user.target.entity.relationships.depends_on.entity.id
        user.target.entity.relationships.depends_on.host.id
        user.target.entity.relationships.depends_on.host.name
        user.target.entity.relationships.depends_on.service.id
        user.target.entity.relationships.depends_on.service.name
        user.target.entity.relationships.depends_on.user.domain
        user.target.entity.relationships.depends_on.user.email
        user.target.entity.relationships.depends_on.user.id
        user.target.entity.relationships.depends_on.user.name
        user.target.entity.relationships.owns.entity.id
        user.target.entity.relationships.owns.host.id
        user.target.entity.relationships.owns.host.name
        user.target.entity.relationships.owns.service.id
        user.target.entity.relationships.owns.service.name
        user.target.entity.relationships.owns.user.domain
        user.target.entity.relationships.owns.user.email
        user.target.entity.relationships.owns.user.id
        user.target.entity.relationships.owns.user.name
        user.target.entity.relationships.supervises.entity.id
        user.target.entity.relationships.supervises.host.id
        user.target.entity.relationships.supervises.host.name
        user.target.entity.relationships.supervises.service.id
        user.target.entity.relationships.supervises.service.name
        user.target.entity.relationships.supervises.user.domain
        user.target.entity.relationships.supervises.user.email
        user.target.entity.relationships.supervises.user.id
        user.target.entity.relationships.supervises.user.name user.target.entity.source
        user.target.entity.sub_type user.target.entity.type user.target.full_name
        user.target.group.domain user.target.group.id user.target.group.name user.target.hash
        user.target.id user.target.name user.target.risk.calculated_level
        user.target.risk.static_level user.target.roles user_agent.device.name user_agent.name
        user_agent.original user_agent.os.family user_agent.os.full user_agent.os.kernel
        user_agent.os.name user_agent.os.platform user_agent.os.type user_agent.os.version
        user_agent.version volume.bus_type volume.default_access volume.device_name
        volume.device_type volume.dos_name volume.file_system_type volume.mount_name
        volume.nt_name volume.product_id volume.product_name volume.serial_number volume.vendor_id
        volume.vendor_name vulnerability.category vulnerability.classification
        vulnerability.description vulnerability.enumeration vulnerability.id
        vulnerability.reference vulnerability.report_id vulnerability.scanner.vendor
        vulnerability.score.version vulnerability.severity
    """,
    "long": """
        client.as.number client.bytes client.nat.port client.packets client.port
        container.disk.read.bytes container.disk.write.bytes container.network.egress.bytes
        container.network.ingress.bytes destination.as.number destination.bytes
        destination.nat.port destination.packets destination.port dll.pe.go_imports_names_entropy
        dll.pe.go_imports_names_var_entropy dll.pe.imports_names_entropy
        dll.pe.imports_names_var_entropy dll.pe.sections.entropy dll.pe.sections.physical_size
        dll.pe.sections.var_entropy dll.pe.sections.virtual_size dns.answers.ttl
        email.attachments.file.size event.duration event.sequence event.severity
        file.elf.go_imports_names_entropy file.elf.go_imports_names_var_entropy
        file.elf.header.entrypoint file.elf.imports_names_entropy
        file.elf.imports_names_var_entropy file.elf.sections.chi2 file.elf.sections.entropy
        file.elf.sections.physical_size file.elf.sections.var_entropy
        file.elf.sections.virtual_address file.elf.sections.virtual_size
        file.macho.go_imports_names_entropy file.macho.go_imports_names_var_entropy
        file.macho.imports_names_entropy file.macho.imports_names_var_entropy
        file.macho.sections.entropy file.macho.sections.physical_size
        file.macho.sections.var_entropy file.macho.sections.virtual_size
        file.pe.go_imports_names_entropy file.pe.go_imports_names_var_entropy
        file.pe.imports_names_entropy file.pe.imports_names_var_entropy file.pe.sections.entropy
        file.pe.sections.physical_size file.pe.sections.var_entropy file.pe.sections.virtual_size
        file.size file.x509.public_key_exponent file.x509.public_key_size host.disk.read.bytes
        host.disk.write.bytes host.network.egress.bytes host.network.egress.packets
        host.network.ingress.bytes host.network.ingress.packets host.target.disk.read.bytes
        host.target.disk.write.bytes host.target.network.egress.bytes
        host.target.network.egress.packets host.target.network.ingress.bytes
        host.target.network.ingress.packets host.target.uptime host.uptime http.request.body.bytes
        http.request.bytes http.response.body.bytes http.response.bytes http.response.status_code
        log.origin.file.line log.syslog.facility.code log.syslog.priority log.syslog.severity.code
        network.bytes network.packets package.size process.args_count
        process.elf.go_imports_names_entropy process.elf.go_imports_names_var_entropy
        process.elf.header.entrypoint process.elf.imports_names_entropy
        process.elf.imports_names_var_entropy process.elf.sections.chi2
        process.elf.sections.entropy process.elf.sections.physical_size
        process.elf.sections.var_entropy process.elf.sections.virtual_address
        process.elf.sections.virtual_size process.entry_leader.args_count
        process.entry_leader.parent.pid process.entry_leader.parent.session_leader.pid
        process.entry_leader.parent.session_leader.vpid process.entry_leader.parent.vpid
        process.entry_leader.pid process.entry_leader.tty.char_device.major
        process.entry_leader.tty.char_device.minor process.entry_leader.vpid process.exit_code
        process.group_leader.args_count process.group_leader.pid
        process.group_leader.tty.char_device.major process.group_leader.tty.char_device.minor
        process.group_leader.vpid process.io.bytes_skipped.length process.io.bytes_skipped.offset
        process.io.total_bytes_captured process.io.total_bytes_skipped
        process.macho.go_imports_names_entropy process.macho.go_imports_names_var_entropy
        process.macho.imports_names_entropy process.macho.imports_names_var_entropy
        process.macho.sections.entropy process.macho.sections.physical_size
        process.macho.sections.var_entropy process.macho.sections.virtual_size
        process.parent.args_count process.parent.elf.go_imports_names_entropy
        process.parent.elf.go_imports_names_var_entropy process.parent.elf.header.entrypoint
        process.parent.elf.imports_names_entropy process.parent.elf.imports_names_var_entropy
        process.parent.elf.sections.chi2 process.parent.elf.sections.entropy
        process.parent.elf.sections.physical_size process.parent.elf.sections.var_entropy
        process.parent.elf.sections.virtual_address process.parent.elf.sections.virtual_size
        process.parent.exit_code process.parent.group_leader.pid process.parent.group_leader.vpid
        process.parent.macho.go_imports_names_entropy
        process.parent.macho.go_imports_names_var_entropy
        process.parent.macho.imports_names_entropy process.parent.macho.imports_names_var_entropy
        process.parent.macho.sections.entropy process.parent.macho.sections.physical_size
        process.parent.macho.sections.var_entropy process.parent.macho.sections.virtual_size
        process.parent.pe.go_imports_names_entropy process.parent.pe.go_imports_names_var_entropy
        process.parent.pe.imports_names_entropy process.parent.pe.imports_names_var_entropy
        process.parent.pe.sections.entropy process.parent.pe.sections.physical_size
        process.parent.pe.sections.var_entropy process.parent.pe.sections.virtual_size
        process.parent.pid process.parent.thread.id process.parent.tty.char_device.major
        process.parent.tty.char_device.minor process.parent.uptime process.parent.vpid
        process.pe.go_imports_names_entropy process.pe.go_imports_names_var_entropy
        process.pe.imports_names_entropy process.pe.imports_names_var_entropy
        process.pe.sections.entropy process.pe.sections.physical_size
        process.pe.sections.var_entropy process.pe.sections.virtual_size process.pid
        process.previous.args_count process.session_leader.args_count
        process.session_leader.parent.pid process.session_leader.parent.session_leader.pid
        process.session_leader.parent.session_leader.vpid process.session_leader.parent.vpid
        process.session_leader.pid process.session_leader.tty.char_device.major
        process.session_leader.tty.char_device.minor process.session_leader.vpid process.thread.id
        process.tty.char_device.major process.tty.char_device.minor process.tty.columns
        process.tty.rows process.uptime process.vpid server.as.number server.bytes server.nat.port
        server.packets server.port source.as.number source.bytes source.nat.port source.packets
        source.port threat.enrichments.indicator.as.number
        threat.enrichments.indicator.file.elf.go_imports_names_entropy
        threat.enrichments.indicator.file.elf.go_imports_names_var_entropy
        threat.enrichments.indicator.file.elf.header.entrypoint
        threat.enrichments.indicator.file.elf.imports_names_entropy
        threat.enrichments.indicator.file.elf.imports_names_var_entropy
        threat.enrichments.indicator.file.elf.sections.chi2
        threat.enrichments.indicator.file.elf.sections.entropy
        threat.enrichments.indicator.file.elf.sections.physical_size
        threat.enrichments.indicator.file.elf.sections.var_entropy
        threat.enrichments.indicator.file.elf.sections.virtual_address
        threat.enrichments.indicator.file.elf.sections.virtual_size
        threat.enrichments.indicator.file.pe.go_imports_names_entropy
        threat.enrichments.indicator.file.pe.go_imports_names_var_entropy
        threat.enrichments.indicator.file.pe.imports_names_entropy
        threat.enrichments.indicator.file.pe.imports_names_var_entropy
        threat.enrichments.indicator.file.pe.sections.entropy
        threat.enrichments.indicator.file.pe.sections.physical_size
        threat.enrichments.indicator.file.pe.sections.var_entropy
        threat.enrichments.indicator.file.pe.sections.virtual_size
        threat.enrichments.indicator.file.size
        threat.enrichments.indicator.file.x509.public_key_exponent
        threat.enrichments.indicator.file.x509.public_key_size threat.enrichments.indicator.port
        threat.enrichments.indicator.scanner_stats threat.enrichments.indicator.sightings
        threat.enrichments.indicator.url.port
        threat.enrichments.indicator.x509.public_key_exponent
        threat.enrichments.indicator.x509.public_key_size threat.indicator.as.number
        threat.indicator.file.elf.go_imports_names_entropy
        threat.indicator.file.elf.go_imports_names_var_entropy
        threat.indicator.file.elf.header.entrypoint
        threat.indicator.file.elf.imports_names_entropy
        threat.indicator.file.elf.imports_names_var_entropy
        threat.indicator.file.elf.sections.chi2 threat.indicator.file.elf.sections.entropy
        threat.indicator.file.elf.sections.physical_size
        threat.indicator.file.elf.sections.var_entropy
        threat.indicator.file.elf.sections.virtual_address
        threat.indicator.file.elf.sections.virtual_size
        threat.indicator.file.pe.go_imports_names_entropy
        threat.indicator.file.pe.go_imports_names_var_entropy
        threat.indicator.file.pe.imports_names_entropy
        threat.indicator.file.pe.imports_names_var_entropy
        threat.indicator.file.pe.sections.entropy threat.indicator.file.pe.sections.physical_size
        threat.indicator.file.pe.sections.var_entropy
        threat.indicator.file.pe.sections.virtual_size threat.indicator.file.size
        threat.indicator.file.x509.public_key_exponent threat.indicator.file.x509.public_key_size
        threat.indicator.port threat.indicator.scanner_stats threat.indicator.sightings
        threat.indicator.url.port threat.indicator.x509.public_key_exponent
        threat.indicator.x509.public_key_size tls.client.x509.public_key_exponent
        tls.client.x509.public_key_size tls.server.x509.public_key_exponent
        tls.server.x509.public_key_size url.port volume.size
    """,
    "match_only_text": """
        error.message message
    """,
    "nested": """
        dll.pe.sections email.attachments file.elf.sections file.elf.segments file.macho.sections
        file.pe.sections gen_ai.request.encoding_formats gen_ai.request.stop_sequences
        gen_ai.response.finish_reasons process.elf.sections process.elf.segments
        process.macho.sections process.parent.elf.sections process.parent.elf.segments
        process.parent.macho.sections process.parent.pe.sections process.pe.sections
        threat.enrichments threat.enrichments.indicator.file.elf.sections
        threat.enrichments.indicator.file.elf.segments
        threat.enrichments.indicator.file.pe.sections threat.indicator.file.elf.sections
        threat.indicator.file.elf.segments threat.indicator.file.pe.sections
    """,
    "object": """
        cloud.entity.behavior cloud.entity.metrics cloud.entity.raw cloud.origin.entity.behavior
        cloud.origin.entity.metrics cloud.origin.entity.raw cloud.target.entity.behavior
        cloud.target.entity.metrics cloud.target.entity.raw container.labels dns.answers
        entity.behavior entity.metrics entity.raw entity.target.behavior entity.target.metrics
        entity.target.raw host.entity.behavior host.entity.metrics host.entity.raw
        host.target.entity.behavior host.target.entity.metrics host.target.entity.raw labels
        log.syslog network.inner observer.egress observer.ingress orchestrator.entity.behavior
        orchestrator.entity.metrics orchestrator.entity.raw process.entry_leader.tty
        process.group_leader.tty process.io process.io.bytes_skipped process.parent.tty
        process.session_leader.tty process.tty service.entity.behavior service.entity.metrics
        service.entity.raw service.origin.entity.behavior service.origin.entity.metrics
        service.origin.entity.raw service.target.entity.behavior service.target.entity.metrics
        service.target.entity.raw threat.enrichments.indicator user.changes.entity.behavior
        user.changes.entity.metrics user.changes.entity.raw user.effective.entity.behavior
        user.effective.entity.metrics user.effective.entity.raw user.entity.behavior
        user.entity.metrics user.entity.raw user.target.entity.behavior user.target.entity.metrics
        user.target.entity.raw
    """,
    "scaled_float": """
        container.cpu.usage container.memory.usage host.cpu.usage host.target.cpu.usage
    """,
    "wildcard": """
        email.message_id error.stack_trace http.request.body.content http.response.body.content
        process.command_line process.entry_leader.command_line process.group_leader.command_line
        process.io.text process.parent.command_line process.session_leader.command_line
        registry.data.strings threat.enrichments.indicator.registry.data.strings
        threat.enrichments.indicator.url.full threat.enrichments.indicator.url.original
        threat.enrichments.indicator.url.path threat.indicator.registry.data.strings
        threat.indicator.url.full threat.indicator.url.original threat.indicator.url.path url.full
        url.original url.path
    """,
}

ECS_FIELD_TYPES: Final[Mapping[str, str]] = {
    name: type_ for type_, names in _BY_TYPE.items() for name in names.split()
}
"""ECS field (dotted flat name) → Elasticsearch type (``keyword``, ``long``, ``ip``, …)."""
