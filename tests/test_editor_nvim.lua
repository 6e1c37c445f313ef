-- Drives a real, headless Neovim with the tactful plugin against a real `tactful serve`, the way
-- a person would: keys go through nvim_input and are handled by Neovim's own main loop, and each
-- step waits for what a person would wait for. Results go to a JSON file that
-- tests/test_editor_nvim.py reads; every step is recorded even when an earlier one failed.
--
-- Environment: TACTFUL_E2E_CONFIG, a JSON file with {plugin, cmd, file, result, settings}.

local config = vim.json.decode(table.concat(vim.fn.readfile(vim.env.TACTFUL_E2E_CONFIG), "\n"))
vim.opt.runtimepath:prepend(config.plugin)
vim.cmd("filetype on")
vim.o.swapfile = false
vim.o.shada = ""

local results = { steps = {}, events = {} }

local function save()
  local encoded = vim.json.encode(results)
  local handle = assert(io.open(config.result, "w"))
  handle:write(encoded)
  handle:close()
end

local function record_events()
  vim.api.nvim_create_autocmd("User", {
    pattern = { "TactfulShown", "TactfulAccepted", "TactfulRejected", "TactfulTyped" },
    callback = function(args)
      table.insert(results.events, { event = args.match, data = args.data or vim.empty_dict() })
    end,
  })
end

-- Coroutine plumbing: the driver yields to Neovim's main loop between checks so typed keys,
-- LSP messages and timers are processed exactly as in an interactive session.
local driver

local function sleep(ms)
  vim.defer_fn(function()
    assert(coroutine.resume(driver))
  end, ms)
  coroutine.yield()
end

local function wait_for(predicate, timeout_ms, what)
  local deadline = vim.uv.now() + timeout_ms
  while true do
    local value = predicate()
    if value then
      return value
    end
    if vim.uv.now() > deadline then
      error(("timed out after %d ms waiting for %s"):format(timeout_ms, what), 0)
    end
    sleep(25)
  end
end

local function events_since(n, name)
  local found = {}
  for i = n + 1, #results.events do
    if results.events[i].event == name then
      table.insert(found, results.events[i])
    end
  end
  return found
end

local function line(row)
  return vim.api.nvim_buf_get_lines(0, row, row + 1, false)[1]
end

local function keys(text)
  vim.api.nvim_input(text)
end

-- Run one step; its outcome (and its error, if any) lands in results.steps[name]. With
-- `restore`, the buffer gets its text back afterwards so the next step starts from the same file.
local function step(name, fn, restore)
  local outcome = { ok = false }
  results.steps[name] = outcome
  local buf = vim.api.nvim_get_current_buf()
  local original = vim.api.nvim_buf_get_lines(buf, 0, -1, false)
  local started = vim.uv.now()
  local ok, err = pcall(fn, outcome)
  outcome.ms = vim.uv.now() - started
  outcome.ok = ok
  if not ok then
    outcome.error = tostring(err)
  end
  -- Leave each step in Normal mode with nothing pending.
  vim.api.nvim_input("<Esc>")
  sleep(100)
  if restore and vim.api.nvim_buf_is_valid(buf) then
    vim.api.nvim_buf_set_lines(buf, 0, -1, false, original)
    sleep(100)
  end
  save()
end

local ghost = function()
  return require("tactful.ghost").current(0)
end

local function client()
  return vim.lsp.get_clients({ bufnr = 0, name = "tactful" })[1]
end

-- Open a fresh line below `row` (0-based), type `prefix`, and wait for ghost text.
local function ghost_after(row, prefix)
  local c = client()
  if not (c and c.server_capabilities.inlineCompletionProvider) then
    error("the server does not offer textDocument/inlineCompletion", 0)
  end
  vim.api.nvim_win_set_cursor(0, { row + 1, 0 })
  keys("o" .. prefix)
  return wait_for(ghost, 15000, "ghost text after typing " .. vim.inspect(prefix))
end

local function main()
  require("tactful").setup({
    cmd = config.cmd,
    settings = config.settings,
    inline = { debounce_ms = 30 },
  })
  record_events()
  vim.cmd.edit(vim.fn.fnameescape(config.file))
  local buf = vim.api.nvim_get_current_buf()

  step("attach", function(out)
    wait_for(function()
      local c = client()
      return c and c.initialized
    end, 20000, "the server to initialize")
    local caps = client().server_capabilities
    out.inline = caps.inlineCompletionProvider ~= nil
    out.code_actions = caps.codeActionProvider ~= nil
    out.commands = (caps.executeCommandProvider or {}).commands or {}
    out.root = client().config.root_dir
  end)

  step("ghost_text", function(out)
    local shown = ghost_after(config.complete.row, config.complete.prefix)
    out.text = shown.text
    out.id = shown.id
    out.extmarks = #vim.api.nvim_buf_get_extmarks(buf, require("tactful.ghost").ns, 0, -1, {})
  end, true)

  step("accept", function(out)
    local shown = ghost_after(config.complete.row, config.complete.prefix)
    local row = vim.api.nvim_win_get_cursor(0)[1] - 1
    local typed = line(row)
    local before = #results.events
    keys("<Tab>")
    local accepted = wait_for(function()
      return events_since(before, "TactfulAccepted")[1]
    end, 10000, "the accept command's answer")
    out.typed = typed
    out.shown = shown.text
    out.inserted = table.concat(vim.api.nvim_buf_get_lines(buf, row, row + #vim.split(shown.text, "\n"), false), "\n")
    out.cursor = vim.api.nvim_win_get_cursor(0)
    out.id = accepted.data.id
    out.shown_id = shown.id
    out.command_result = accepted.data.result
    out.command_error = accepted.data.error
    out.ghost_left = ghost() ~= nil
  end, true)

  step("type_through", function(out)
    local shown = ghost_after(config.complete.row, config.complete.prefix)
    local before = #results.events
    local first = shown.text:sub(1, 1)
    keys(first == "<" and "<lt>" or first)
    wait_for(function()
      local now = ghost()
      return now and now.text ~= shown.text
    end, 5000, "the ghost text to advance")
    sleep(200)
    local now = ghost()
    out.before = shown.text
    out.after = now and now.text
    out.same_id = now ~= nil and now.id == shown.id
    out.rejections = #events_since(before, "TactfulRejected")
  end, true)

  step("type_over", function(out)
    local shown = ghost_after(config.complete.row, config.complete.prefix)
    local before = #results.events
    local other = shown.text:sub(1, 1) == "~" and "!" or "~"
    keys(other)
    local rejected = wait_for(function()
      return events_since(before, "TactfulRejected")[1]
    end, 10000, "the rejection's answer")
    out.id = rejected.data.id
    out.shown_id = shown.id
    out.reason = rejected.data.reason
    out.command_result = rejected.data.result
    out.command_error = rejected.data.error
  end, true)

  step("accept_word", function(out)
    local shown = ghost_after(config.complete.row, config.complete.prefix)
    local row = vim.api.nvim_win_get_cursor(0)[1] - 1
    out.typed = line(row)
    local before = #results.events
    keys("<M-Right>")
    local accepted = wait_for(function()
      return events_since(before, "TactfulAccepted")[1]
    end, 10000, "the partial accept's answer")
    out.shown = shown.text
    out.line = line(row)
    out.partial = accepted.data.partial
    out.inserted = accepted.data.text
    out.accepted_length = accepted.data.accepted_length
    out.command_result = accepted.data.result
    out.command_error = accepted.data.error
    local rest = ghost()
    out.rest = rest and rest.text
  end, true)

  step("dismiss", function(out)
    local shown = ghost_after(config.complete.row, config.complete.prefix)
    local before = #results.events
    keys("<C-]>")
    local rejected = wait_for(function()
      return events_since(before, "TactfulRejected")[1]
    end, 10000, "the rejection's answer")
    out.reason = rejected.data.reason
    out.same_id = rejected.data.id == shown.id
    out.command_result = rejected.data.result
    out.command_error = rejected.data.error
    out.ghost_left = ghost() ~= nil
  end, true)

  local function by_source(source)
    return vim.tbl_filter(function(d)
      return d.source == source
    end, vim.diagnostic.get(buf))
  end

  local function sources_seen()
    local seen = {}
    for _, d in ipairs(vim.diagnostic.get(buf)) do
      seen[tostring(d.source)] = true
    end
    return vim.tbl_keys(seen)
  end

  step("quality_diagnostics", function(out)
    -- The steps before left the buffer broken for a moment (an open call) and then restored
    -- it: wait for the findings of the restored text, not the syntax error of the broken one.
    local ok, err = pcall(wait_for, function()
      for _, d in ipairs(by_source("tactful.quality")) do
        if d.code == config.code_action.code then
          return true
        end
      end
    end, 20000, "tactful.quality diagnostics for " .. config.code_action.code)
    out.seen = sources_seen()
    if not ok then
      error(err, 0)
    end
    out.quality = vim.tbl_map(function(d)
      return { code = d.code, row = d.lnum, message = d.message }
    end, by_source("tactful.quality"))
  end)

  step("review_diagnostics", function(out)
    local ok, err = pcall(wait_for, function()
      return #by_source("tactful.review") > 0
    end, 20000, "tactful.review diagnostics")
    out.seen = sources_seen()
    if not ok then
      error(err, 0)
    end
    out.review = vim.tbl_map(function(d)
      return { row = d.lnum, message = d.message }
    end, by_source("tactful.review"))
  end)

  step("code_action", function(out)
    local before = table.concat(vim.api.nvim_buf_get_lines(buf, 0, -1, false), "\n")
    local wanted = config.code_action
    local target = wait_for(function()
      for _, d in ipairs(vim.diagnostic.get(buf)) do
        if d.source == "tactful.quality" and d.code == wanted.code then
          return d
        end
      end
    end, 20000, "the " .. wanted.code .. " finding")
    vim.api.nvim_win_set_cursor(0, { target.lnum + 1, target.col })
    out.titles = {}
    vim.lsp.buf.code_action({
      apply = true,
      -- The quality fix for the finding (review comments on the same line have code actions
      -- of their own).
      filter = function(action)
        table.insert(out.titles, action.title)
        for _, d in ipairs(action.diagnostics or {}) do
          if d.source == "tactful.quality" and d.code == wanted.code then
            return true
          end
        end
        return false
      end,
    })
    wait_for(function()
      return table.concat(vim.api.nvim_buf_get_lines(buf, 0, -1, false), "\n") ~= before
    end, 20000, "the code action to change the buffer")
    vim.cmd("silent write")
    out.file = table.concat(vim.fn.readfile(config.file), "\n")
  end)

  step("review_command", function(out)
    local commands = (client().server_capabilities.executeCommandProvider or {}).commands or {}
    if not vim.tbl_contains(commands, "tactful.reviewChanges") then
      error("the server does not offer the command tactful.reviewChanges", 0)
    end
    vim.fn.setqflist({}, "r")
    vim.cmd("TactfulReview")
    wait_for(function()
      return #vim.fn.getqflist() > 0
    end, 20000, "review comments in the quickfix list")
    out.items = vim.tbl_map(function(item)
      return { row = item.lnum, text = item.text }
    end, vim.fn.getqflist())
    vim.cmd("cclose")
  end)

  step("trust_command", function(out)
    vim.cmd("TactfulTrust")
    local trust_file = vim.env.XDG_DATA_HOME .. "/tactful/trusted.json"
    wait_for(function()
      return vim.fn.filereadable(trust_file) == 1
    end, 20000, "the trust list to be written")
    out.trusted = vim.json.decode(table.concat(vim.fn.readfile(trust_file), "\n")).folders
  end)

  step("stats_command", function(out)
    vim.cmd("TactfulStats")
    local stats = wait_for(function()
      local found = vim.fn.bufnr("tactful://stats")
      return found > 0 and found or nil
    end, 20000, "the statistics buffer")
    out.text = table.concat(vim.api.nvim_buf_get_lines(stats, 0, -1, false), "\n")
    vim.cmd("bwipeout! " .. stats)
  end)

  step("health", function(out)
    vim.cmd("checkhealth tactful")
    local text = table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), "\n")
    out.text = text
    vim.cmd("bwipeout!")
  end)
end

-- A whole-run deadline: whatever happened, the results are written and Neovim exits.
vim.defer_fn(function()
  results.timed_out = true
  save()
  vim.cmd("qa!")
end, tonumber(config.deadline_ms) or 240000)

driver = coroutine.create(function()
  local ok, err = pcall(main)
  if not ok then
    results.crashed = tostring(err)
  end
  save()
  vim.cmd("qa!")
end)
assert(coroutine.resume(driver))
