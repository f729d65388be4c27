{{/*
Names, labels and shared fragments of the changetrail chart.
*/}}

{{/* The chart name, or nameOverride. */}}
{{- define "changetrail.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The prefix of every resource name. A release called like the chart is not repeated
("changetrail", not "changetrail-changetrail"), so its operator ServiceAccount is
"changetrail-operator". Truncated to leave room for the longest suffix ("-operator").
*/}}
{{- define "changetrail.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 54 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 54 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 54 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* Chart name and version, for the helm.sh/chart label. */}}
{{- define "changetrail.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels that never change over a release's life. Deployments' selectors are immutable,
so only these go into selectors, never helm.sh/chart or the version.
*/}}
{{- define "changetrail.selectorLabels" -}}
app.kubernetes.io/name: {{ include "changetrail.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Labels of every resource, with the version they run; call with (dict "ctx" $ "version" "1.0").
*/}}
{{- define "changetrail.versionedLabels" -}}
helm.sh/chart: {{ include "changetrail.chart" .ctx }}
{{ include "changetrail.selectorLabels" .ctx }}
app.kubernetes.io/version: {{ .version | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
app.kubernetes.io/part-of: changetrail
{{- with .ctx.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Labels of resources shared by both components: the release's version (appVersion). */}}
{{- define "changetrail.labels" -}}
{{ include "changetrail.versionedLabels" (dict "ctx" . "version" .Chart.AppVersion) }}
{{- end }}

{{/*
Labels of one component's resources, with the tag of the image it runs; call with
(dict "ctx" $ "component" "api"). The migrations and helm test run the API image.
*/}}
{{- define "changetrail.componentLabels" -}}
{{- $image := ternary .ctx.Values.operator.image .ctx.Values.api.image (eq .component "operator") }}
{{- $version := include "changetrail.imageTag" (dict "ctx" .ctx "image" $image) }}
{{ include "changetrail.versionedLabels" (dict "ctx" .ctx "version" $version) }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* Selector labels of one component; call with (dict "ctx" $ "component" "api"). */}}
{{- define "changetrail.componentSelectorLabels" -}}
{{ include "changetrail.selectorLabels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "changetrail.apiFullname" -}}
{{- printf "%s-api" (include "changetrail.fullname" .) }}
{{- end }}

{{- define "changetrail.operatorFullname" -}}
{{- printf "%s-operator" (include "changetrail.fullname" .) }}
{{- end }}

{{- define "changetrail.apiServiceAccountName" -}}
{{- if .Values.api.serviceAccount.create }}
{{- default (include "changetrail.apiFullname" .) .Values.api.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.api.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "changetrail.operatorServiceAccountName" -}}
{{- if .Values.operator.serviceAccount.create }}
{{- default (include "changetrail.operatorFullname" .) .Values.operator.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.operator.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
Each component has its own image (api.image, operator.image), both tagged with the chart's
appVersion unless a tag or digest is given. Call with (dict "ctx" $ "image" .Values.api.image).
*/}}
{{- define "changetrail.imageTag" -}}
{{- default .ctx.Chart.AppVersion .image.tag }}
{{- end }}

{{- define "changetrail.image" -}}
{{- if .image.digest }}
{{- printf "%s@%s" .image.repository .image.digest }}
{{- else }}
{{- printf "%s:%s" .image.repository (include "changetrail.imageTag" .) }}
{{- end }}
{{- end }}

{{/* The Secret holding the bootstrap API key, and the key inside it. */}}
{{- define "changetrail.bootstrapSecretName" -}}
{{- default (printf "%s-bootstrap" (include "changetrail.fullname" .)) .Values.bootstrap.existingSecret }}
{{- end }}

{{- define "changetrail.bootstrapSecretKey" -}}
{{- if .Values.bootstrap.existingSecret }}
{{- .Values.bootstrap.existingSecretKey }}
{{- else -}}
api-key
{{- end }}
{{- end }}

{{/* The Secret holding the PostgreSQL URL, and the key inside it. */}}
{{- define "changetrail.databaseSecretName" -}}
{{- default (printf "%s-database" (include "changetrail.fullname" .)) .Values.database.postgresql.existingSecret }}
{{- end }}

{{- define "changetrail.databaseSecretKey" -}}
{{- if .Values.database.postgresql.existingSecret }}
{{- .Values.database.postgresql.existingSecretKey }}
{{- else -}}
url
{{- end }}
{{- end }}

{{- define "changetrail.usesPostgresql" -}}
{{- if eq .Values.database.type "postgresql" }}true{{ end }}
{{- end }}

{{/* Migrations run in a hook Job only with PostgreSQL; SQLite's file lives on the API's volume. */}}
{{- define "changetrail.migrationJobEnabled" -}}
{{- if and .Values.api.enabled (include "changetrail.usesPostgresql" .) .Values.migrations.job.enabled }}true{{ end }}
{{- end }}

{{/*
Values that cannot work together. Checked once, from the API Deployment, so a bad
combination fails `helm install` with a message rather than a half-working release.
*/}}
{{- define "changetrail.validateValues" -}}
{{- if not .Values.api.enabled }}
{{- if not .Values.operator.enabled }}
{{- fail "api.enabled=false installs only the operator: it needs operator.enabled=true" }}
{{- end }}
{{- if not .Values.operator.apiUrl }}
{{- fail "api.enabled=false: set operator.apiUrl to the central changetrail API the operator reports to" }}
{{- end }}
{{- if not .Values.operator.apiKey.existingSecret }}
{{- fail "api.enabled=false: set operator.apiKey.existingSecret to a Secret holding the operator's own API key" }}
{{- end }}
{{- end }}
{{- if and .Values.operator.apiKey.existingSecret .Values.api.enabled (eq .Values.operator.apiKey.existingSecret (include "changetrail.bootstrapSecretName" .)) (eq .Values.operator.apiKey.existingSecretKey (include "changetrail.bootstrapSecretKey" .)) }}
{{- fail "operator.apiKey names the bootstrap key, an admin key: give the operator a key of its own (or leave operator.apiKey.existingSecret empty and the chart makes one)" }}
{{- end }}
{{- if include "changetrail.usesPostgresql" . }}
{{- if not (or .Values.database.postgresql.url .Values.database.postgresql.existingSecret) }}
{{- fail "database.type=postgresql needs database.postgresql.url or database.postgresql.existingSecret" }}
{{- end }}
{{- else }}
{{- if gt (int .Values.api.replicaCount) 1 }}
{{- fail "SQLite allows one API replica: set api.replicaCount=1 or use database.type=postgresql" }}
{{- end }}
{{- if .Values.api.autoscaling.enabled }}
{{- fail "SQLite allows one API replica: api.autoscaling needs database.type=postgresql" }}
{{- end }}
{{- if .Values.api.podDisruptionBudget.enabled }}
{{- fail "A PodDisruptionBudget over the single SQLite API pod would block node drains: it needs database.type=postgresql" }}
{{- end }}
{{- end }}
{{- end }}

{{/* CHANGETRAIL_DATABASE_URL, from the SQLite path or the PostgreSQL Secret. */}}
{{- define "changetrail.databaseEnv" -}}
- name: CHANGETRAIL_DATABASE_URL
{{- if include "changetrail.usesPostgresql" . }}
  valueFrom:
    secretKeyRef:
      name: {{ include "changetrail.databaseSecretName" . }}
      key: {{ include "changetrail.databaseSecretKey" . }}
{{- else }}
  value: {{ printf "sqlite:///%s/%s" (trimSuffix "/" .Values.database.sqlite.directory) .Values.database.sqlite.fileName | quote }}
{{- end }}
{{- end }}

{{/*
Where the operator reports, and with which key: its own key from operator.apiKey.existingSecret
when given (an operator-only release must give one), else a key the chart generates into a
Secret of its own and the API creates at start with the operator's scopes only. Never the
bootstrap key: that one is admin.
*/}}
{{- define "changetrail.operatorApiUrl" -}}
{{- default (include "changetrail.apiUrl" .) .Values.operator.apiUrl }}
{{- end }}

{{- define "changetrail.operatorKeySecretName" -}}
{{- default (printf "%s-api-key" (include "changetrail.operatorFullname" .)) .Values.operator.apiKey.existingSecret }}
{{- end }}

{{- define "changetrail.operatorKeySecretKey" -}}
{{- if .Values.operator.apiKey.existingSecret }}
{{- .Values.operator.apiKey.existingSecretKey }}
{{- else -}}
api-key
{{- end }}
{{- end }}

{{/* Whether the chart generates the operator's key and has this release's API create it. */}}
{{- define "changetrail.generatesOperatorKey" -}}
{{- if and .Values.api.enabled .Values.operator.enabled (not .Values.operator.apiKey.existingSecret) }}true{{ end }}
{{- end }}

{{/* The Secret holding the key of the keyed hash of Secret values, and the key inside it. */}}
{{- define "changetrail.secretHashKeySecretName" -}}
{{- default (printf "%s-secret-hash" (include "changetrail.operatorFullname" .)) .Values.operator.watch.secretHashKey.existingSecret }}
{{- end }}

{{- define "changetrail.secretHashKeySecretKey" -}}
{{- if .Values.operator.watch.secretHashKey.existingSecret }}
{{- .Values.operator.watch.secretHashKey.existingSecretKey }}
{{- else -}}
hash-key
{{- end }}
{{- end }}

{{/* The in-cluster URL of the API Service, for the operator and helm test. */}}
{{- define "changetrail.apiUrl" -}}
{{- printf "http://%s.%s.svc:%v" (include "changetrail.apiFullname" .) .Release.Namespace .Values.api.service.port }}
{{- end }}

{{/*
A digest of the credentials given as values, as a pod annotation: changing the key or the
database URL in values restarts the pods that read them. Generated and existing Secrets are
left out, so a plain upgrade does not restart anything.
*/}}
{{- define "changetrail.credentialsChecksum" -}}
{{- printf "%s|%s" .Values.bootstrap.apiKey .Values.database.postgresql.url | sha256sum }}
{{- end }}

{{/*
The secret key that seals channel destinations, as the chart stores it: the value given, else
the one already in that Secret (a new key would make every stored destination unreadable),
else a new one. Call with (dict "ctx" $ "secret" <name of the Secret it goes into>).
*/}}
{{- define "changetrail.secretKeyValue" -}}
{{- $key := .ctx.Values.channels.secretKey }}
{{- if not $key }}
{{- $existing := lookup "v1" "Secret" .ctx.Release.Namespace .secret }}
{{- if and $existing $existing.data (hasKey $existing.data "secret-key") }}
{{- $key = index $existing.data "secret-key" | b64dec }}
{{- else }}
{{- $key = randAlphaNum 48 }}
{{- end }}
{{- end }}
{{- if lt (len $key) 32 }}
{{- fail "channels.secretKey needs at least 32 characters" }}
{{- end }}
{{- $key }}
{{- end }}

{{/*
Where the chart keeps the secret key: beside the bootstrap key when it creates that Secret, so
one install keeps its generated credentials in one Secret; in a Secret of its own when the
bootstrap key comes from an existing Secret; nowhere when channels.existingSecret holds it.
*/}}
{{- define "changetrail.secretKeyInBootstrapSecret" -}}
{{- if and (not .Values.channels.existingSecret) (not .Values.bootstrap.existingSecret) }}true{{ end }}
{{- end }}

{{- define "changetrail.secretKeySecretName" -}}
{{- if .Values.channels.existingSecret }}
{{- .Values.channels.existingSecret }}
{{- else if include "changetrail.secretKeyInBootstrapSecret" . }}
{{- include "changetrail.bootstrapSecretName" . }}
{{- else }}
{{- printf "%s-secret-key" (include "changetrail.fullname" .) }}
{{- end }}
{{- end }}

{{- define "changetrail.secretKeySecretKey" -}}
{{- if .Values.channels.existingSecret }}
{{- .Values.channels.existingSecretKey }}
{{- else -}}
secret-key
{{- end }}
{{- end }}

{{/* The Secret holding the declared channels (channels.json); empty when none are declared. */}}
{{- define "changetrail.declaredChannelsSecretName" -}}
{{- if .Values.channels.declaredExistingSecret }}
{{- .Values.channels.declaredExistingSecret }}
{{- else if .Values.channels.declared }}
{{- printf "%s-channels" (include "changetrail.fullname" .) }}
{{- end }}
{{- end }}

{{/* Where the API reads the declared channels. */}}
{{- define "changetrail.declaredChannelsDirectory" -}}
/etc/changetrail/channels
{{- end }}
