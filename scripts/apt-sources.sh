#!/usr/bin/env bash
# Prints uio's private apt sources list, derived from this machine's own apt
# configuration, so that packages come from wherever the machine is set up to get
# them (a mirror, a local cache, a dated archive, a file: tree).
#
#   apt-sources.sh [--list FILE] [--parts DIR] [--lists DIR] [--keydir DIR]
#
#   --list    the one-line sources list (default: apt-config's Dir::Etc::SourceList)
#   --parts   the sources.list.d directory (default: Dir::Etc::SourceParts)
#   --lists   apt's downloaded index files (default: Dir::State::Lists), used to read
#             each candidate archive's Release file when apt already has it
#   --keydir  where to write deb822 Signed-By keys given inline (as NAME-LINE.asc)
#
# What is read, as apt reads it: FILE, then DIR/*.list and DIR/*.sources in name
# order (other names, e.g. *.disabled-by-farm or *.save, are ignored), one-line
# entries in .list files ('#' starts a comment) and deb822 stanzas in .sources files.
# Only 'deb' entries count: deb-src entries, 'Enabled: no' stanzas and cdrom: URIs
# are skipped.
#
# The rule for a Debian archive:
#   - the main archive: an entry that serves suite 'bookworm' with component 'main';
#   - the security archive: an entry that serves 'bookworm-security' with 'main';
#   - in both cases, when apt has already downloaded that suite's Release file, it
#     must say 'Origin: Debian' (this excludes vendors that also publish a
#     'bookworm main', e.g. for their own packages).
# Output, one suite a line: every Debian 12 suite (bookworm, bookworm-*) the machine
# has on its main archive URIs, bookworm-security from its security archive, then, on
# every main archive URI, the suites uio adds (bookworm-backports, trixie,
# trixie-backports, sid, component main; skipped where already configured). Options of the entries
# (arch=, signed-by=, trusted=, ...) are kept, in one-line [key=value] form; the
# added suites take the options of that URI's bookworm entry.
#
# Exits 1, naming what is missing and listing what was skipped and why, when no
# main archive is configured. A missing security archive is only reported.
set -euo pipefail

extra_suites=(bookworm-backports trixie trixie-backports sid)

list='' parts='' lists='' keydir=''
while (($#)); do
	case $1 in
	--list) list=$2; shift 2 ;;
	--parts) parts=$2; shift 2 ;;
	--lists) lists=$2; shift 2 ;;
	--keydir) keydir=$2; shift 2 ;;
	*) echo "usage: $0 [--list FILE] [--parts DIR] [--lists DIR] [--keydir DIR]" >&2; exit 2 ;;
	esac
done
if [[ -z $list || -z $parts || -z $lists ]] && command -v apt-config >/dev/null; then
	SL='' SP='' LS=''
	eval "$(apt-config shell SL Dir::Etc::SourceList/f SP Dir::Etc::SourceParts/d LS Dir::State::Lists/d)"
	list=${list:-$SL} parts=${parts:-$SP} lists=${lists:-$LS}
fi
list=${list:-/etc/apt/sources.list}
parts=${parts:-/etc/apt/sources.list.d}
lists=${lists:-/var/lib/apt/lists}

notes=()      # what was skipped and why, printed when nothing usable is found
files=()      # the files read
# entries: one per (file position, URI); suites and components space-separated,
# options as space-separated key=value words (values comma-separated)
e_where=() e_opts=() e_uri=() e_suites=() e_comps=()

note() { notes+=("$*"); }
trim() { local s=$1; s=${s#"${s%%[![:space:]]*}"}; printf '%s' "${s%"${s##*[![:space:]]}"}"; }

add_entry() { # where opts uri suites comps
	if [[ $3 == cdrom:* ]]; then
		note "$1: cdrom: entry skipped"
		return
	fi
	e_where+=("$1") e_opts+=("$2") e_uri+=("$3") e_suites+=("$4") e_comps+=("$5")
}

# One-line format: deb [ key=value ... ] URI SUITE [COMPONENT...]
parse_list() {
	local file=$1 n=0 line type rest opts w
	while IFS= read -r line || [[ -n $line ]]; do
		n=$((n + 1))
		line=$(trim "${line%%#*}")
		[[ -n $line ]] || continue
		type=${line%%[[:space:]]*}
		rest=$(trim "${line#"$type"}")
		if [[ $type != deb ]]; then
			[[ $type == deb-src ]] || note "$file:$n: unknown type '$type' skipped"
			continue
		fi
		opts=
		if [[ $rest == \[* ]]; then
			if [[ $rest != *\]* ]]; then
				note "$file:$n: unterminated [options], entry skipped"
				continue
			fi
			opts=${rest%%\]*}
			opts=${opts#\[}
			read -r -a w <<<"$opts"
			opts="${w[*]}"
			rest=${rest#*\]}
		fi
		read -r -a w <<<"$rest"
		if ((${#w[@]} < 2)); then
			note "$file:$n: no URI or suite, entry skipped"
			continue
		fi
		add_entry "$file:$n" "$opts" "${w[0]}" "${w[1]}" "${w[*]:2}"
	done <"$file"
}

# deb822 fields that are options, with their one-line names (apt's own mapping)
declare -A optname=(
	[architectures]=arch [architectures-add]=arch+ [architectures-remove]=arch-
	[languages]=lang [languages-add]=lang+ [languages-remove]=lang-
	[targets]=target [targets-add]=target+ [targets-remove]=target-
	[signed-by]=signed-by [trusted]=trusted [pdiffs]=pdiffs [by-hash]=by-hash
	[check-valid-until]=check-valid-until [valid-until-min]=valid-until-min
	[valid-until-max]=valid-until-max [check-date]=check-date
	[date-max-future]=date-max-future [inrelease-path]=inrelease-path
	[allow-insecure]=allow-insecure [allow-weak]=allow-weak
	[allow-downgrade-to-insecure]=allow-downgrade-to-insecure
)
declare -A field=()

# one deb822 stanza, in field[], starting at line $2 of file $1
flush_stanza() {
	local file=$1 at=$2 key val opts='' uri uris suites types w enabled key_file
	((${#field[@]})) || return 0
	enabled=${field[enabled]:-yes}
	case ${enabled,,} in
	no | false | off | 0 | without | disable)
		note "$file:$at: Enabled: $enabled, stanza skipped"
		field=()
		return
		;;
	esac
	read -r -a types <<<"${field[types]:-}"
	if [[ " ${types[*]} " != *" deb "* ]]; then
		[[ " ${types[*]} " == *" deb-src "* ]] || note "$file:$at: Types: '${field[types]:-}' has no deb, stanza skipped"
		field=()
		return
	fi
	if [[ -z ${field[uris]:-} || -z ${field[suites]:-} ]]; then
		note "$file:$at: no URIs or Suites, stanza skipped"
		field=()
		return
	fi
	for key in "${!optname[@]}"; do
		[[ -n ${field[$key]:-} ]] || continue
		val=${field[$key]}
		if [[ $key == signed-by && $val == *"BEGIN PGP"* ]]; then
			if [[ -z $keydir ]]; then
				note "$file:$at: Signed-By holds a key inline and no --keydir was given, stanza skipped"
				field=()
				return
			fi
			mkdir -p "$keydir"
			key_file=$keydir/$(basename "$file")-$at.asc
			# continuation lines: ' .' is an empty line
			printf '%s\n' "$val" | sed -e 's/^\.$//' -e '/./,$!d' >"$key_file"
			val=$key_file
		fi
		read -r -a w <<<"$val"
		val="${w[*]}"
		opts+=" ${optname[$key]}=${val// /,}"
	done
	# a fixed order, whatever the hash order of optname
	read -r -a w <<<"$opts"
	opts=$(printf '%s\n' "${w[@]}" | sort | tr '\n' ' ')
	opts=$(trim "$opts")
	read -r -a uris <<<"${field[uris]}"
	read -r -a suites <<<"${field[suites]}"
	read -r -a w <<<"${field[components]:-}"
	for uri in "${uris[@]}"; do
		add_entry "$file:$at" "$opts" "$uri" "${suites[*]}" "${w[*]}"
	done
	field=()
}

# shellcheck disable=SC2094 # flush_stanza writes key files, never the file read
parse_sources() {
	local file=$1 n=0 at=0 line cur='' name
	field=()
	while IFS= read -r line || [[ -n $line ]]; do
		n=$((n + 1))
		[[ $line != \#* ]] || continue
		if [[ $line =~ ^[[:space:]]*$ ]]; then
			flush_stanza "$file" "$at"
			cur='' at=0
			continue
		fi
		if [[ $line == [[:space:]]* ]]; then
			[[ -n $cur ]] && field[$cur]+=$'\n'"${line:1}"
			continue
		fi
		if [[ $line != *:* ]]; then
			note "$file:$n: not a 'Field: value' line, ignored"
			continue
		fi
		((at)) || at=$n
		name=${line%%:*}
		cur=${name,,}
		field[$cur]=$(trim "${line#*:}")
	done <"$file"
	flush_stanza "$file" "$at"
}

# apt's name for a downloaded file (URItoFileName): no scheme or user, special
# characters %-quoted, '/' as '_'
list_name() {
	local u=$1 host out='' c i
	u=${u#*:}
	if [[ $u == //* ]]; then
		u=${u#//}
		host=${u%%/*}
		u=${host##*@}${u:${#host}}
	fi
	for ((i = 0; i < ${#u}; i++)); do
		c=${u:i:1}
		case $c in
		[A-Za-z0-9./:+,\;\'\(\)-]) out+=$c ;;
		*) printf -v c '%%%02x' "'$c"; out+=$c ;;
		esac
	done
	out=${out%/}
	printf '%s' "${out//\//_}"
}

# the Origin of URI's SUITE, when apt has its Release file; empty otherwise
release_origin() {
	local base f
	base=$lists/$(list_name "$1")_dists_$2_
	for f in "${base}InRelease" "${base}Release"; do
		if [[ -f $f ]]; then
			sed -n 's/^Origin:[[:space:]]*//p' "$f" | head -n1
			return
		fi
	done
}

has_word() { [[ " $1 " == *" $2 "* ]]; }

# a Debian archive entry for SUITE: entry index, suite
debian_entry() {
	local i=$1 suite=$2 origin
	has_word "${e_suites[i]}" "$suite" || return 1
	if ! has_word "${e_comps[i]}" main; then
		note "${e_where[i]}: ${e_uri[i]} $suite has no component main, not used"
		return 1
	fi
	origin=$(release_origin "${e_uri[i]}" "$suite")
	if [[ -n $origin && $origin != Debian ]]; then
		note "${e_where[i]}: ${e_uri[i]} $suite is not Debian's (its Release file says Origin: $origin), not used"
		return 1
	fi
}

ignored=()
[[ -f $list ]] && files+=("$list")
if [[ -d $parts ]]; then
	while IFS= read -r f; do
		name=${f##*/}
		if [[ $name =~ ^[A-Za-z0-9_.-]+\.(list|sources)$ ]]; then
			files+=("$f")
		else
			ignored+=("$name")
		fi
	done < <(find "$parts" -mindepth 1 -maxdepth 1 \( -type f -o -type l \) | LC_ALL=C sort)
fi
((${#ignored[@]} == 0)) || note "ignored, as apt ignores them: ${ignored[*]}"
for f in "${files[@]}"; do
	if [[ $f == *.sources ]]; then
		parse_sources "$f"
	else
		parse_list "$f"
	fi
done

# main archive URIs (without a trailing '/'), in order, with their bookworm entry's options
main_uris=()
declare -A main_opts=()
for i in "${!e_uri[@]}"; do
	debian_entry "$i" bookworm || continue
	u=${e_uri[i]%/}
	[[ -v main_opts[$u] ]] && continue
	main_uris+=("$u")
	main_opts[$u]=${e_opts[i]}
done

if ((${#main_uris[@]} == 0)); then
	{
		echo "[uio] error: no Debian archive in apt's sources (read: ${files[*]:-nothing})."
		echo "  uio needs an enabled 'deb' entry for suite 'bookworm' with component 'main':"
		echo "  one-line (sources.list, *.list): deb URI bookworm main"
		echo "  deb822 (*.sources):              Types: deb / URIs: URI / Suites: bookworm / Components: main"
		((${#notes[@]} == 0)) || printf '  %s\n' "${notes[@]}"
	} >&2
	exit 1
fi

declare -A seen=()   # "uri suite" already written with main
out=()
emit() { # opts uri suite comps
	local line="deb${1:+ [$1]} $2 $3 $4"
	[[ -v seen["$line"] ]] && return
	seen[$line]=1
	has_word "$4" main && seen["${2%/} $3"]=1
	out+=("$line")
}
security=0
for i in "${!e_uri[@]}"; do
	u=${e_uri[i]%/}
	for s in ${e_suites[i]}; do
		if [[ -v main_opts[$u] ]]; then
			[[ $s == bookworm || $s == bookworm-* ]] || continue
		elif [[ $s == bookworm-security ]]; then
			debian_entry "$i" "$s" || continue
		else
			continue
		fi
		[[ $s == bookworm-security ]] && security=1
		emit "${e_opts[i]}" "${e_uri[i]}" "$s" "${e_comps[i]}"
	done
done
((security)) || echo "[uio] note: no security archive (suite bookworm-security) in apt's sources; going on without it" >&2

echo "# uio's private sources, from: ${files[*]}"
printf '%s\n' "${out[@]}"
n=${#out[@]}
for u in "${main_uris[@]}"; do
	for s in "${extra_suites[@]}"; do
		[[ -v seen["$u $s"] ]] || emit "${main_opts[$u]}" "$u" "$s" main
	done
done
echo "# added for uio, pinned low: only packages named with /suite come from them"
printf '%s\n' "${out[@]:n}"
