# shellcheck shell=bash
# Grids and sweeps, shared by slurm/submit-grid.sh, slurm/grid.sbatch and
# jobs/run-grid.sh (sourced; defines functions only). Format of a grid file:
# docs/slurm.md. A sweep is the Cartesian product of value lists,
#   KEY=V1,V2,... [KEY=...]      e.g.  lr=1e-4,1e-3,1e-2 model=mlp,cnn seed=0,1
# (the first key varies slowest), expanded into a grid file whose run names
# read `lr-1e-4_model-mlp_seed-0`. Errors are one line on stderr, prefixed
# with $GRID_PROG, and return status 2.

GRID_PROG=${GRID_PROG:-grid}

grid_error() { echo "$GRID_PROG: $*" >&2; return 2; }

# grid_lines GRID: prints the grid's header and rows (comments, blank lines
# and trailing blanks removed).
grid_lines() { sed -e 's/#.*//' -e 's/[[:space:]]*$//' "$1" | grep -v '^[[:space:]]*$'; }

# grid_rows GRID: prints the number of runs (rows under the header).
grid_rows() {
  local n
  n=$(grid_lines "$1" | wc -l)
  echo $((n > 0 ? n - 1 : 0))
}

# grid_row GRID TASK: sets ROW_NAME and ROW_OPTS (the `stiffness train`
# options of row TASK, from 0). A relative `config` is looked up in the
# current folder, then beside the grid file, then in $STIFFNESS_ROOT.
grid_row() {
  local grid=$1 task=$2 lines header row i key value nrows
  mapfile -t lines < <(grid_lines "$grid")
  nrows=$((${#lines[@]} - 1))
  if ((task < 0 || task >= nrows)); then
    grid_error "task $task is past the last row of '$grid' ($nrows rows: use --array=0-$((nrows - 1)))"
    return 2
  fi
  read -r -a header <<<"${lines[0]}"
  read -r -a row <<<"${lines[$((task + 1))]}"
  if ((${#row[@]} != ${#header[@]})); then
    grid_error "row $task of '$grid' has ${#row[@]} values for ${#header[@]} columns: ${lines[$((task + 1))]}"
    return 2
  fi
  ROW_NAME="" ROW_OPTS=()
  for i in "${!header[@]}"; do
    key=${header[$i]} value=${row[$i]}
    case $key in
      name) ROW_NAME=$value ;;
      output) grid_error "column 'output' is not allowed in '$grid': the file is <results>/<name>.h5"; return 2 ;;
      config)
        if [[ $value != /* && ! -e $value ]]; then
          if [[ -e $(dirname "$grid")/$value ]]; then value=$(dirname "$grid")/$value
          elif [[ -e ${STIFFNESS_ROOT:-.}/$value ]]; then value=${STIFFNESS_ROOT:-.}/$value
          fi
        fi
        ROW_OPTS+=(--config "$value") ;;
      *) ROW_OPTS+=("--$key" "$value") ;;
    esac
  done
  [[ -n $ROW_NAME ]] || { grid_error "'$grid' has no 'name' column"; return 2; }
}

# grid_check GRID [LABEL]: every run name is a plain, unique file name.
# LABEL names the grid in messages (default: its path).
grid_check() {
  local grid=$1 label=${2:-"'$1'"} names dup
  (($(grid_rows "$grid") >= 1)) || { grid_error "$label has no rows under its header line"; return 2; }
  names=$(grid_lines "$grid" | tail -n +2 | awk -v h="$(grid_lines "$grid" | head -n 1)" '
    BEGIN { n = split(h, cols); for (i = 1; i <= n; i++) if (cols[i] == "name") c = i }
    { print (c ? $c : "") }')
  grid_lines "$grid" | head -n 1 | tr -s ' \t' '\n' | grep -qx name ||
    { grid_error "$label has no 'name' column"; return 2; }
  dup=$(sort <<<"$names" | uniq -d | head -n 1)
  [[ -z $dup ]] || { grid_error "run name '$dup' appears twice in $label (name clash: both would write $dup.h5)"; return 2; }
  if grep -q '[^A-Za-z0-9._+=-]' <<<"$names"; then
    grid_error "$label: run names may hold only letters, digits and . _ + = - (got '$(grep -m1 '[^A-Za-z0-9._+=-]' <<<"$names")')"
    return 2
  fi
}

# grid_expand_sweep OUT CONFIG KEY=LIST...: writes the grid file OUT with
# columns name, config and one per key; one row per combination.
grid_expand_sweep() {
  local out=$1 config=$2 arg key list v i
  shift 2
  local keys=() lists=() seen=" "
  (($# >= 1)) || { grid_error "a sweep needs at least one KEY=V1,V2,... after --config"; return 2; }
  for arg in "$@"; do
    [[ $arg == *=* ]] || { grid_error "sweep item '$arg' is not KEY=V1,V2,..."; return 2; }
    key=${arg%%=*} list=${arg#*=}
    [[ $key =~ ^[a-z][a-z0-9-]*$ ]] || { grid_error "sweep item '$arg': '$key' is not an option name"; return 2; }
    case $key in
      name|output|config) grid_error "sweep item '$arg': '$key' cannot be swept (runs are named and placed by the sweep; one --config)"; return 2 ;;
    esac
    [[ $seen != *" $key "* ]] || { grid_error "sweep: option '$key' is given twice"; return 2; }
    seen+="$key "
    [[ -n $list && $list != ,* && $list != *, && $list != *,,* ]] ||
      { grid_error "sweep item '$arg': empty value in the list of '$key'"; return 2; }
    [[ $list != *[[:space:]]* ]] || { grid_error "sweep item '$arg': values must not contain blanks"; return 2; }
    keys+=("$key") lists+=("$list")
  done
  # The Cartesian product, first key slowest: grow the list of partial rows
  # ("name<TAB>values") one key at a time.
  local combos=($'\t') next row name vals
  for i in "${!keys[@]}"; do
    next=()
    IFS=, read -r -a vals <<<"${lists[$i]}"
    for row in "${combos[@]}"; do
      for v in "${vals[@]}"; do
        name=${row%%$'\t'*} 
        next+=("${name:+${name}_}${keys[$i]}-${v//\//-}"$'\t'"${row#*$'\t'} $v")
      done
    done
    combos=("${next[@]}")
  done
  {
    echo "# Expanded by $GRID_PROG from: --config $config $*"
    echo "# One run per row; resubmitting runs only the rows whose <name>.h5 is missing."
    echo "name config ${keys[*]}"
    for row in "${combos[@]}"; do echo "${row%%$'\t'*} $config${row#*$'\t'}"; done
  } >"$out.tmp" && mv "$out.tmp" "$out"
}

# grid_validate GRID BIN [train options...]: every row's options pass
# `stiffness train --check-only` (unknown options, values it would reject).
grid_validate() {
  local grid=$1 bin=$2 n t msg
  shift 2
  [[ -x $bin ]] || { grid_error "cannot check the runs: '$bin' is not an executable (build first, or set STIFFNESS_BIN)"; return 2; }
  n=$(grid_rows "$grid")
  for ((t = 0; t < n; t++)); do
    grid_row "$grid" "$t" || return 2
    if ! msg=$("$bin" train --check-only "${ROW_OPTS[@]}" "$@" --output "check.h5" 2>&1 >/dev/null); then
      msg=$(grep -m1 'error' <<<"$msg" | sed 's/^stiffness: error[^:]*: //')
      grid_error "run '$ROW_NAME' would be rejected: ${msg:-stiffness train --check-only failed}"
      return 2
    fi
  done
}

# grid_missing GRID RESULTS: prints the row numbers (from 0) whose
# RESULTS/<name>.h5 does not exist, comma-separated.
grid_missing() {
  local grid=$1 results=$2 n t todo=()
  n=$(grid_rows "$grid")
  for ((t = 0; t < n; t++)); do
    grid_row "$grid" "$t" || return 2
    [[ -e $results/$ROW_NAME.h5 ]] || todo+=("$t")
  done
  local IFS=,
  echo "${todo[*]}"
}

# grid_ranges LIST: "0,1,2,5,7,8" -> "0-2,5,7-8" (a short --array spec).
grid_ranges() {
  local IFS=, out=() first="" last="" t
  for t in $1; do
    if [[ -n $last ]] && ((t == last + 1)); then last=$t; continue; fi
    [[ -n $first ]] && out+=("$first$( ((last > first)) && echo "-$last")")
    first=$t last=$t
  done
  [[ -n $first ]] && out+=("$first$( ((last > first)) && echo "-$last")")
  echo "${out[*]}"
}

# grid_resolve BIN [SWEEP...] GRID|[train options...]: the caller's grid from
# its options (globals `config`, `name`, `results`, each possibly empty).
# With --config, the KEY=LIST items in front are expanded into
# <results>/<name>.grid, checked and validated beside it and moved into place
# only when every run passes; otherwise the first argument is a grid file.
# Sets `grid`, `name`, `results` (absolute) and REST, the train options left.
# Exits the caller's shell (status 2) on a bad grid or sweep, calling its
# `usage` when the grid file is missing.
grid_resolve() {
  local bin=$1 sweep=()
  shift
  if [[ -n $config ]]; then
    [[ -r $config && ! -d $config ]] || { grid_error "--config: cannot read config file '$config'"; exit 2; }
    config=$(readlink -f "$config")
    while (($# > 0)) && [[ $1 != -* ]]; do sweep+=("$1"); shift; done
    name=${name:-$(basename "$config" .ini)}
    results=$(readlink -m "${results:-results/$name}")
    mkdir -p "$results"
    grid=$results/$name.grid
    grid_expand_sweep "$grid.new" "$config" "${sweep[@]}" || exit 2
    grid_check "$grid.new" "the sweep" && grid_validate "$grid.new" "$bin" "$@" || { rm -f "$grid.new"; exit 2; }
    mv "$grid.new" "$grid"
  else
    (($# >= 1)) || usage
    [[ -r $1 && ! -d $1 ]] || { grid_error "cannot read grid file '$1'"; exit 2; }
    grid=$(readlink -f "$1")
    shift
    grid_check "$grid" && grid_validate "$grid" "$bin" "$@" || exit 2
    name=$(basename "$grid" .grid)
    results=$(readlink -m "${results:-results/$name}")
  fi
  REST=("$@")
}
