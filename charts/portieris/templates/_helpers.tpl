{{/*
The Service name. Fixed: the serving certificate (gencerts, cert-manager) names
portieris.<namespace>.svc, and IBM Portieris' tooling expects it.
*/}}
{{- define "portieris.name" -}}
portieris
{{- end -}}

{{/*
Names of the release's own objects: the release name when it contains "portieris",
else "<release>-portieris".
*/}}
{{- define "portieris.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains "portieris" .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-portieris" .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "portieris.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels of every object. `app` and `release` are Portieris' own; the others are Helm's. */}}
{{- define "portieris.labels" -}}
app: {{ include "portieris.name" . }}
chart: {{ include "portieris.chart" . }}
release: {{ .Release.Name }}
heritage: {{ .Release.Service }}
app.kubernetes.io/name: {{ include "portieris.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* The labels that select the release's pods (Deployment, PDB). */}}
{{- define "portieris.selectorLabels" -}}
app: {{ include "portieris.name" . }}
release: {{ .Release.Name }}
{{- end -}}

{{- define "portieris.image" -}}
{{- $repository := printf "%s/%s" (.Values.image.host | default "ghcr.io/portieris-rs") .Values.image.image -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" $repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" $repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}
{{- end -}}

{{/* The image repository, without tag or digest: what the release namespace's policy allows. */}}
{{- define "portieris.imageRepository" -}}
{{- printf "%s/%s" (.Values.image.host | default "ghcr.io/portieris-rs") .Values.image.image -}}
{{- end -}}

{{/*
Deployment annotations: the current key over Portieris' misspelt `deployemntAnnotations`.
Values are quoted: annotations are strings, `--set a=1` gives a number.
*/}}
{{- define "portieris.deploymentAnnotations" -}}
{{- $annotations := dict -}}
{{- with .Values.deployemntAnnotations }}{{ $annotations = merge $annotations . }}{{ end -}}
{{- with .Values.deploymentAnnotations }}{{ $annotations = mergeOverwrite $annotations . }}{{ end -}}
{{- range $key, $value := $annotations }}
{{ $key }}: {{ $value | toString | quote }}
{{- end -}}
{{- end -}}

{{/*
The PEM CA the API server trusts for the webhook, or nothing when cert-manager injects it (or
SkipSecretCreation leaves it to whoever manages the Secret). Fails when there is none at all.
*/}}
{{- define "portieris.caPEM" -}}
{{- if .Values.UseCertManager -}}
{{- else if .Values.UseGeneratedCerts.enabled -}}
{{- required "UseGeneratedCerts.enabled needs UseGeneratedCerts.caCert (PEM)" .Values.UseGeneratedCerts.caCert -}}
{{- else if .Files.Get "certs/ca.crt" -}}
{{- .Files.Get "certs/ca.crt" -}}
{{- else if not .Values.SkipSecretCreation -}}
{{- fail (printf "no webhook certificates: run `sh ./portieris/gencerts %s` before installing, or set UseCertManager=true, or UseGeneratedCerts" .Release.Namespace) -}}
{{- end -}}
{{- end -}}

{{/*
Refuses certificates that gencerts made for another namespace: the API server would reject
them, and every admission would fail. Only gencerts writes certs/namespace.
*/}}
{{- define "portieris.checkCertNamespace" -}}
{{- $generatedFor := .Files.Get "certs/namespace" | trim -}}
{{- if and $generatedFor (not .Values.UseCertManager) (not .Values.UseGeneratedCerts.enabled) (not .Values.webHooks.url) (ne $generatedFor .Release.Namespace) -}}
{{- fail (printf "certs/ was generated for namespace %q, not %q: run `sh ./portieris/gencerts %s`" $generatedFor .Release.Namespace .Release.Namespace) -}}
{{- end -}}
{{- end -}}

{{/* Pod annotations: Prometheus scrape annotations, then podAnnotations (quoted). */}}
{{- define "portieris.podAnnotations" -}}
{{- $annotations := dict "prometheus.io/scrape" "true" "prometheus.io/port" (toString .Values.service.metricsPort) "prometheus.io/path" "/metrics" -}}
{{- with .Values.podAnnotations }}{{ $annotations = mergeOverwrite $annotations . }}{{ end -}}
{{- range $key, $value := $annotations }}
{{ $key }}: {{ $value | toString | quote }}
{{- end -}}
{{- end -}}
