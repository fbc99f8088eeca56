# Sourced by bench/run and tests/static.sh: `need_packages PKG...` installs the Debian packages
# that are missing, running `apt-get update` at most once and only when a package has no
# candidate yet; exits with a clear message when it cannot.
# shellcheck shell=bash
need_packages_updated=
need_packages() {
    local missing=() package sudo=
    for package in "$@"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' ||
            missing+=("$package")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if ! command -v apt-get >/dev/null; then
        echo "need-packages: missing ${missing[*]} and no apt-get to install them" >&2
        exit 1
    fi
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    for package in "${missing[@]}"; do
        if [ -z "$need_packages_updated" ] &&
            ! apt-cache policy "$package" 2>/dev/null | grep -q 'Candidate: [0-9]'; then
            $sudo apt-get update -qq
            need_packages_updated=1
        fi
    done
    echo "need-packages: installing ${missing[*]}" >&2
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >&2 || {
        echo "need-packages: could not install ${missing[*]} (apt-get failed above)" >&2
        exit 1
    }
}
