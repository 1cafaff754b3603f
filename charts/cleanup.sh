#!/usr/bin/env bash
# Removes every trace of a Portieris install, also when `helm delete` cannot:
#
#   charts/cleanup.sh [release] [namespace]      (defaults: portieris portieris)
#
# 1. the webhook configurations (first, so that nothing is refused while the rest goes),
# 2. the Helm release (without hooks),
# 3. the CRDs, and with them EVERY ImagePolicy and ClusterImagePolicy of the cluster,
# 4. the namespace (never default, kube-system, kube-public or kube-node-lease).
#
# Uses kubectl and helm from PATH (or $KUBECTL, $HELM) with the current kubeconfig context.
set -euo pipefail

RELEASE=${1:-portieris}
NAMESPACE=${2:-portieris}
KUBECTL=${KUBECTL:-kubectl}
HELM=${HELM:-helm}

echo "Deleting release ${RELEASE} in namespace ${NAMESPACE}"

"$KUBECTL" delete mutatingwebhookconfiguration image-admission-config --ignore-not-found=true
"$KUBECTL" delete validatingwebhookconfiguration image-admission-config --ignore-not-found=true

if "$HELM" status "$RELEASE" --namespace "$NAMESPACE" >/dev/null 2>&1; then
	"$HELM" delete "$RELEASE" --no-hooks --namespace "$NAMESPACE"
else
	echo "No Helm release ${RELEASE} in ${NAMESPACE}"
fi

"$KUBECTL" delete crd \
	clusterimagepolicies.portieris.cloud.ibm.com imagepolicies.portieris.cloud.ibm.com \
	clusterimagepolicies.securityenforcement.admission.cloud.ibm.com \
	imagepolicies.securityenforcement.admission.cloud.ibm.com \
	--ignore-not-found=true

case $NAMESPACE in
default | kube-system | kube-public | kube-node-lease)
	echo "Not deleting namespace ${NAMESPACE}"
	;;
*)
	"$KUBECTL" delete namespace "$NAMESPACE" --ignore-not-found=true
	;;
esac
