#!/bin/sh
# docs-check.sh BUILD -- the manual pages and the bash completion agree with
# the programs (run by `make check-man`, which `make check` depends on):
#   1. mandoc -T lint -W warning prints nothing for any page;
#   2. every example contract in pbrd-contract(5) passes `pbrctl check`,
#      every scheme of contracts/ has one, and the page's example of an
#      error is what pbrctl check prints;
#   3. every key the contract loader accepts (contract*.c) is in
#      pbrd-contract(5), every config key (config.c) in pbrd.yaml(5), every
#      pbrd option (pbrd --help) and every metric (metrics.c) in pbrd(8);
#   4. every pbrctl command has --help, a section in pbrctl(1) naming each of
#      its options, and the completion offers the same options;
#   5. --version prints the version of debian/changelog;
#   6. systemd-analyze verify accepts the unit, alone and with the drop-in
#      systemd/pbrd-credentials.conf (skipped without a working
#      systemd-analyze), and the drop-in loads the key pbrd.yaml names.
# Prints one line per failure and exits 1 if any.
set -u
build=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
man="$build/man"
tmp=$(mktemp -d /tmp/pbrd-docs-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail=0
bad() { echo "docs-check: $*"; fail=1; }

# 1. lint
out=$(mandoc -T lint -W warning "$man"/pbrd.8 "$man"/pbrctl.1 "$man"/pbrgen.1 "$man"/pbrd.yaml.5 \
    "$man"/pbrd-contract.5 2>&1)
[ -z "$out" ] || bad "mandoc -T lint:
$out"

# 2. examples in pbrd-contract(5): the literal blocks that start with `contract:`
awk -v dir="$tmp" '
    /^\.Bd -literal/ { inb = 1; n = 0; next }
    /^\.Ed/ { if (inb && f != "") close(f); inb = 0; f = ""; next }
    inb && n == 0 && /^contract: / { f = dir "/" $2 ".yaml" }
    inb { n++; if (f != "") { gsub(/\\e/, "\\"); print > f } }
' "$root/man/pbrd-contract.5"
if ! "$build/pbrctl" check "$tmp"/*.yaml > "$tmp/check.out" 2>&1; then
    bad "an example in pbrd-contract(5) does not load: $(cat "$tmp/check.out")"
fi
# the page's "Checking a file": its doncaster example with a gate in two metrics
mkdir "$tmp/bad"
sed 's/threshold: {points: 5}/threshold: {points: 5, percent: 10}/' "$tmp/doncaster.yaml" > "$tmp/bad/doncaster.yaml"
got=$(cd "$tmp/bad" && "$root/$build/pbrctl" check doncaster.yaml 2>&1)
want=$(sed -n '/^\.Ss Checking a file/,/^\.Ed/p' "$root/man/pbrd-contract.5" | sed -n '/^\$ pbrctl check/,/^\.Ed/p' |
    sed '1d;$d')
[ "$got" = "$want" ] || bad "pbrd-contract(5), Checking a file, shows [$want]; pbrctl check prints [$got]"
for c in "$root"/contracts/*.yaml; do
    n=$(basename "$c")
    grep -q "^\.Ss .*($n)\$" "$root/man/pbrd-contract.5" || bad "pbrd-contract(5) has no example for $n"
    [ -e "$tmp/${n}" ] || bad "pbrd-contract(5): the example for $n is not contract ${n%.yaml}"
done

# 3. keys and options
# every string in the `keys[]` arrays of the contract loader
keys=$(cat "$root"/daemon/libpbr/contract*.c | tr '\n' ' ' |
    grep -o 'const keys\[\] = {[^}]*}' | grep -o '"[a-z_]*"' | tr -d '"' | sort -u)
[ -n "$keys" ] || bad "found no keys[] arrays in contract*.c: update docs-check.sh"
for k in $keys; do
    grep -q -E "(Cm |\{)$k\b" "$root/man/pbrd-contract.5" ||
        bad "pbrd-contract(5) does not document the key $k: add it to man/pbrd-contract.5"
done
ckeys=$(grep -o 'strcmp(key, "[a-z_]*")' "$root/daemon/pbrd/config.c" | grep -o '"[a-z_]*"' | tr -d '"')
[ -n "$ckeys" ] || bad "found no keys in config.c: update docs-check.sh"
for k in $ckeys; do
    grep -q "Cm $k\b" "$root/man/pbrd.yaml.5" || bad "pbrd.yaml(5) does not document the key $k"
done
for o in $("$build/pbrd" --help | grep -o -- '--[a-z-]*' | sort -u); do
    grep -q "Fl \\\\${o#-}\b" "$root/man/pbrd.8" || bad "pbrd(8) does not document $o"
done

for m in $(grep -o '"pbrd_[a-z_]*' "$root/daemon/pbrd/metrics.c" 2>/dev/null | tr -d '"' | sort -u); do
    grep -q "$m(" "$root/daemon/pbrd/metrics.h" && continue # a function named in a message
    grep -q "^\.It Li $m\$" "$root/man/pbrd.8" || bad "pbrd(8), METRICS, does not document the metric $m"
done

# 4. pbrctl commands: --help, the page, the completion
cmds=$("$build/pbrctl" --help | awk '/^commands:/ { on = 1; next } /^$/ { on = 0 } on { print $1 }')
[ -n "$cmds" ] || bad "pbrctl --help lists no commands"
for c in $cmds; do
    [ "$c" = gen ] && continue # pbrgen(1)
    help=$("$build/pbrctl" "$c" --help) ||
        { bad "pbrctl $c --help fails: add $c to daemon/pbrctl/help.c"; continue; }
    item=$(grep "^\.It Cm $c\b" "$root/man/pbrctl.1") ||
        { bad "pbrctl(1) has no section for $c: add \".It Cm $c ...\" to man/pbrctl.1"; continue; }
    opts=$(printf '%s\n' "$help" | grep -o -- '--[a-z-]*' | sort -u)
    for o in $opts; do
        printf '%s\n' "$item" | grep -q "Fl \\\\${o#-}\b" || bad "pbrctl(1): $c does not show $o"
    done
    comp=$(bash -c '. "$1"; COMP_WORDS=(pbrctl "$2" --); COMP_CWORD=2; _pbrctl; printf "%s\n" "${COMPREPLY[@]}"' \
        sh "$root/completions/pbrctl" "$c" | grep -v -e '^--help$' -e '^--ingest$' -e '^--api$' \
        -e '^--server-key$' -e '^--key$' -e '^--timeout$' | sort -u)
    [ "$comp" = "$opts" ] ||
        bad "completion of pbrctl $c offers [$(echo $comp)], --help lists [$(echo $opts)]: edit completions/pbrctl"
done
comp=$(bash -c '. "$1"; COMP_WORDS=(pbrctl ""); COMP_CWORD=1; _pbrctl; printf "%s\n" "${COMPREPLY[@]}"' \
    sh "$root/completions/pbrctl" | sort)
[ "$comp" = "$(printf '%s\n' $cmds | sort)" ] ||
    bad "completion offers commands [$(echo $comp)], pbrctl has [$(echo $cmds)]: edit completions/pbrctl"
gen_opts=$("$build/pbrgen" --help | grep -o -- '--[a-z-]*' | sort -u)
for o in $gen_opts; do
    grep -q "Fl \\\\${o#-}\b" "$root/man/pbrgen.1" || bad "pbrgen(1) does not document $o"
done
comp=$(bash -c '. "$1"; COMP_WORDS=(pbrgen --); COMP_CWORD=1; _pbrctl; printf "%s\n" "${COMPREPLY[@]}"' \
    sh "$root/completions/pbrctl" | grep -v -e '^--help$' -e '^--version$' -e '^--output$' | sort -u)
[ "$comp" = "$gen_opts" ] || bad "completion of pbrgen offers [$(echo $comp)], --help lists [$(echo $gen_opts)]"

# 5. one version everywhere
v=$(head -n 1 "$root/debian/changelog" | cut -d ' ' -f 2 | tr -d '()')
for p in pbrd pbrctl pbrgen; do
    got=$("$build/$p" --version)
    [ "$got" = "$p $v" ] || bad "$p --version says \"$got\", debian/changelog says $v"
done

# 6. the unit and its credentials drop-in
if systemd-analyze --version >/dev/null 2>&1; then
    mkdir -p "$tmp/unit/pbrd.service.d"
    sed "s|/usr/local/bin/pbrd|$(cd "$build" && pwd)/pbrd|" "$root/systemd/pbrd.service" > "$tmp/unit/pbrd.service"
    out=$(SYSTEMD_UNIT_PATH="$tmp/unit:" systemd-analyze verify --man=no "$tmp/unit/pbrd.service" 2>&1) ||
        bad "systemd-analyze verify pbrd.service: $out"
    cp "$root/systemd/pbrd-credentials.conf" "$tmp/unit/pbrd.service.d/credentials.conf"
    out=$(SYSTEMD_UNIT_PATH="$tmp/unit:" systemd-analyze verify --man=no "$tmp/unit/pbrd.service" 2>&1)
    { [ $? -eq 0 ] && [ -z "$out" ]; } || bad "systemd-analyze verify pbrd.service with pbrd-credentials.conf: $out"
else
    echo "docs-check: systemd-analyze does not work here: the unit is not verified"
fi
grep -q '^LoadCredential=server.key_secret:/etc/pbrd/server.key_secret$' "$root/systemd/pbrd-credentials.conf" ||
    bad "systemd/pbrd-credentials.conf does not load /etc/pbrd/server.key_secret as server.key_secret"
grep -q '^#  server_secret_key: ${CREDENTIALS_DIRECTORY}/server.key_secret$' "$root/etc/pbrd.yaml" ||
    bad "etc/pbrd.yaml does not show server_secret_key: \${CREDENTIALS_DIRECTORY}/server.key_secret"

[ $fail -eq 0 ] && echo "docs-check: manual pages, completion and --help agree (mandoc -T lint clean)"
exit $fail
